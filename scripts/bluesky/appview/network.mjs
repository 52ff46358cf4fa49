// Runs a whole local AT Protocol network from @atproto/dev-env in one Node process, on loopback
// only, for campaign-scheduler's metrics tests: PLC, a PDS that proxies app.bsky.* to the
// Bluesky AppView, the AppView itself (with its dataplane, bsync and Ozone, which it needs).
// Every port is picked free by dev-env. Needs DB_POSTGRES_URL and REDIS_HOST (start-appview.sh).
// When ready, one JSON line goes to stdout: {"ready": true, "pds": ..., "appview": ...}.
import net from 'node:net'

const host = process.env.BIND_HOST || '127.0.0.1'
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const first = args[0]
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (typeof args[1] !== 'string') args.splice(1, 0, host)
  } else if (first && typeof first === 'object' && first.path === undefined && !first.host) {
    args[0] = { ...first, host }
  } else if (first === undefined || typeof first === 'function') {
    args.unshift(0, host) // listen() or listen(callback): any port, loopback
  }
  return listen.apply(this, args)
}

const started = Date.now()
const { TestNetwork } = await import('@atproto/dev-env')
const network = await TestNetwork.create({
  dbPostgresUrl: process.env.DB_POSTGRES_URL,
  dbPostgresSchema: 'campaign',
  pds: { hostname: 'localhost' },
})
console.log(
  JSON.stringify({
    ready: true,
    pds: network.pds.url,
    appview: network.bsky.url,
    plc: network.plc.url,
    ms: Date.now() - started,
  }),
)

let stopping = false
async function stop(signal) {
  if (stopping) return
  stopping = true
  console.log(JSON.stringify({ stopping: signal }))
  try {
    await network.close()
  } catch (error) {
    console.error('shutdown failed:', error)
  }
  process.exit(0)
}
process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGINT', () => stop('SIGINT'))
