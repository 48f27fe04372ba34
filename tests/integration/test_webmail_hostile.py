"""Hostile HTML mails in the webmail (web/mail/reader.js) in a real
browser: Debian's chromium driven by npm playwright-core
(tests/browser/webmail-hostile.mjs) against one real posternd. The mails
arrive over SMTP; each carries one family of attacks (scripts, event
handlers, javascript: and data: links, CSS url()/@import/image-set()/
escapes and fonts, SVG scripts and links, remote images, srcset, poster,
forms, meta refresh, <base>, frames, objects, pings, mXSS through
noscript and svg style). Opening them, hovering and clicking their links
must run nothing, navigate nowhere and request nothing from the
"remote" host (a loopback HTTP server the script runs, counted there and
by the browser's own request log); after "Show images" only images are
fetched. The reader frames' CSP headers are checked too."""
from email.message import EmailMessage

import pytest

from conftest import free_port
from webmail_util import (HAVE_CHROMIUM, NO_CHROMIUM, deliver_wait,
                          run_browser, server, smtp_send, stop)


def hostile_mails(remote):
    """the hostile HTML mails; they name the script's loopback "remote"
    origin"""
    out = []
    r = remote
    hostile = [
        ("Hostile script", f'<p>script test</p><script>window.top.__pwned="script";'
         f'fetch("{r}/script")</script>'),
        ("Hostile handlers", '<img src="x" onerror="window.top.__pwned=\'onerror\'">'
         '<body onload="top.__pwned=\'onload\'"><div onmouseover="top.__pwned=\'hover\'">hover me</div>'
         '<svg onload="top.__pwned=\'svgonload\'"></svg>'),
        ("Hostile links", '<a id="js" href="javascript:top.__pwned=\'jslink\'">click me</a> '
         '<a id="jsent" href="jav&#x09;ascript:top.__pwned=\'jsent\'">and me</a> '
         '<a id="data" href="data:text/html,<script>alert(1)</script>">data</a>'),
        ("Hostile CSS", f'<style>@import url("{r}/import.css");'
         f'body{{background:url({r}/bg.png)}}'
         f'@font-face{{font-family:evil;src:url({r}/font.woff)}}p{{font-family:evil}}</style>'
         f'<p style="background-image:url(\'{r}/inline-bg.png\')">styled</p>'
         f'<link rel="stylesheet" href="{r}/link.css">'),
        ("Hostile SVG", f'<svg xmlns="http://www.w3.org/2000/svg"><script>top.__pwned="svgscript";'
         f'fetch("{r}/svg")</script><image href="{r}/svgimage.png" width="10" height="10"/>'
         f'<a xlink:href="javascript:top.__pwned=1"><text y="20">svg link</text></a></svg>'
         f'<img src="data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIG9ubG9hZD0idG9wLl9fcHduZWQ9MSIvPg==">'),
        ("Hostile remote", f'<p>tracking</p><img id="remote" src="{r}/img.png" width="20" height="20">'
         f'<table background="{r}/table.png"><tr><td>cell</td></tr></table>'
         f'<video poster="{r}/poster.png"></video><audio src="{r}/audio.mp3"></audio>'
         f'<img srcset="{r}/srcset.png 2x">'),
        ("Hostile form", f'<form action="{r}/form" method="post"><input name="pw" value="x">'
         f'<button id="go" type="submit">Go</button></form>'),
        ("Hostile tricks", f'<img id="pr" src="//localhost:{r.rsplit(":", 1)[1]}/protocol-relative.png">'
         f'<div style="background-image:image-set(\'{r}/imageset.png\' 1x)">set</div>'
         f'<div style="background:\\75 rl({r}/escaped.png)">escaped</div>'
         f'<style>@import "{r}/import2.css"; li{{list-style-image:url(&quot;{r}/list.png&quot;)}}</style>'
         f'<svg><use href="{r}/use.svg#a"></use></svg>'
         f'<input type="image" src="{r}/input.png"><a id="ping" ping="{r}/ping" href="https://example.org/">ping</a>'
         f'<picture><source srcset="{r}/source.png"><img alt="pic"></picture>'
         f'<link rel="prefetch" href="{r}/prefetch"><meta http-equiv="refresh" content="0;url={r}/refresh2">'
         f'<noscript><p title="</noscript><img src=x onerror=top.__pwned=\'mxss\'>"></p></noscript>'
         f'<svg><style><img src=x onerror="top.__pwned=\'svgstyle\'"></style></svg>'
         f'<math><mi xlink:href="javascript:top.__pwned=1">math</mi></math>'),
        ("Hostile frames", f'<meta http-equiv="refresh" content="0;url={r}/refresh">'
         f'<base href="{r}/"><img src="relative.png"><iframe src="{r}/frame"></iframe>'
         f'<object data="{r}/object"></object><embed src="{r}/embed">'
         f'<iframe srcdoc="<script>top.__pwned=\'srcdoc\'</script>"></iframe>'),
    ]
    for subject, body in hostile:
        m = EmailMessage()
        m["From"] = "Mallory <mallory@evil.test>"
        m["To"] = "alice@acme.test"
        m["Subject"] = subject
        m.set_content("text part")
        m.add_alternative(f"<html><head><title>x</title></head><body>{body}</body></html>",
                          subtype="html")
        out.append(m)
    return out


MANY = 1200


def odd_mails():
    """a message of MANY attachments and one of broken MIME (no closing
    boundary, bad base64, a part without headers): both must list and
    open. They are put in a folder of their own, Odd, before the start
    (every listing of a folder holding the big one is slow: the server
    reads the whole message for its preview)"""
    m = EmailMessage()
    m["From"] = "Parts <parts@acme.test>"
    m["To"] = "alice@acme.test"
    m["Subject"] = "Many parts"
    m["Date"] = "Mon, 1 Dec 2025 10:00:00 +0000"
    m["Message-ID"] = "<many-parts@acme.test>"
    m.set_content("a message of many small parts")
    for i in range(MANY):
        m.add_attachment(f"part {i}\n".encode(), maintype="application",
                         subtype="octet-stream", filename=f"p{i:04d}.bin")
    broken = (b"From: Broken <broken@acme.test>\r\nTo: alice@acme.test\r\n"
              b"Subject: Broken MIME\r\nMIME-Version: 1.0\r\n"
              b"Date: Mon, 1 Dec 2025 10:00:00 +0000\r\n"
              b"Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n"
              b"--zz\r\nContent-Type: text/plain\r\n\r\nthe readable part\r\n"
              b"--zz\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
              b"Content-Disposition: attachment; filename=bad.png\r\n\r\n"
              b"!!!not base64!!!\r\n--zz\r\n\r\nno headers here\r\n")
    return [m.as_bytes(policy=m.policy.clone(linesep="\r\n")), broken]


def odd_folder(p):
    odd = p.root / "store" / "acme" / "alice" / ".Odd"
    for d in ("cur", "new", "tmp"):
        (odd / d).mkdir(parents=True, exist_ok=True)
    for i, raw in enumerate(odd_mails()):
        (odd / "new" / f"17650{i:05d}.M{i}P2.odd").write_bytes(raw)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = server(tmp_path_factory, odd_folder)
    yield p
    stop(p)


@pytest.mark.skipif(not HAVE_CHROMIUM, reason=NO_CHROMIUM)
def test_hostile_mail_in_chromium(srv, tmp_path):
    # the mails name the remote host the script will run: a port taken
    # now and handed to it
    rport = free_port()
    msgs = hostile_mails(f"http://localhost:{rport}")
    smtp_send(srv.port("smtp"), msgs)
    deliver_wait(srv, len(msgs))
    names = run_browser(srv, tmp_path, "webmail-hostile.mjs",
                        "webmail hostile test: ok", REMOTE_PORT=rport,
                        MANY=MANY)
    assert "webmail-hostile.png" in names, names
