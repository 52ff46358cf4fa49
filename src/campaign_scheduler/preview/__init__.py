"""``campaign preview POST``: how one post will look on each network it goes to.

:mod:`.facts` holds what each network's feed does with a post (where it folds long text,
which frame it crops an image to, whether it shows a link card); :mod:`.build` applies those
facts and the network's own text counting to a draft; :mod:`.html` writes the page and
:mod:`.words` holds its German and English labels.
"""
