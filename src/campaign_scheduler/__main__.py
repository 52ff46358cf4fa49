from campaign_scheduler.cli import main

main()
