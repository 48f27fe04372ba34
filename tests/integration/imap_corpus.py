"""Tricky messages for the ENVELOPE/BODYSTRUCTURE/section comparison with
Dovecot (test_imap_dovecot.py)."""

CORPUS = [
    # 0 plain, bare LF
    b"From: a@b.example\nTo: c@d.example\nSubject: lf only\n\nline1\nline2\n",
    # 1 no body, no blank line
    b"Subject: headers only\r\nFrom: x@y.example\r\n",
    # 2 groups, quoted names with escapes, route, comments
    b"From: \"Doe, \\\"J\\\"\" <j@d.example> (comment)\r\n"
    b"To: undisclosed-recipients:;\r\n"
    b"Cc: Team: a@x.example, \"B\" <b@x.example>;, c@y.example\r\n"
    b"Bcc: <@r1.example,@r2.example:z@z.example>\r\n"
    b"Reply-To: =?utf-8?q?J=C3=B6rg?= <jo@x.example>\r\n"
    b"Sender: s@x.example\r\n"
    b"In-Reply-To: <a@b>\r\nMessage-ID: <c@d>\r\n"
    b"Subject: =?iso-8859-1?q?caf=E9?=\r\n"
    b"Date: 2 Jan 2026 03:04:05 -0800\r\n\r\nbody\r\n",
    # 3 nested multipart with rfc822 and alternative
    b"From: n@x.example\r\nSubject: nested\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
    b"--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
    b"--inner\r\nContent-Type: text/plain; charset=\"us-ascii\"; format=flowed\r\n\r\n"
    b"plain text\r\nsecond line\r\n"
    b"--inner\r\nContent-Type: text/html\r\nContent-ID: <h1@x>\r\n"
    b"Content-Description: the html\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    b"<p>html</p>\r\n--inner--\r\n"
    b"--outer\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n"
    b"From: inner@x.example\r\nSubject: inner msg\r\n"
    b"Content-Type: multipart/mixed; boundary=\"b2\"\r\n\r\n"
    b"--b2\r\nContent-Type: text/plain\r\n\r\nin part\r\n--b2\r\n"
    b"Content-Type: image/png; name=\"p.png\"\r\nContent-Transfer-Encoding: base64\r\n"
    b"Content-Disposition: attachment; filename=\"p.png\"; size=3\r\n"
    b"Content-Language: en, de\r\nContent-Location: http://x.example/p.png\r\n"
    b"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n\r\n"
    b"iVBORw==\r\n--b2--\r\n"
    b"--outer--\r\nepilogue\r\n",
    # 4 multipart without the closing delimiter
    b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nno headers part\r\n"
    b"--x\r\nContent-Type: text/plain\r\n\r\nunterminated\r\n",
    # 5 digest: parts default to message/rfc822
    b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n"
    b"Subject: d1\r\n\r\nd1 body\r\n--d\r\n\r\nSubject: d2\r\n\r\nd2 body\r\n--d--\r\n",
    # 6 odd content types, upper case, params
    b"Content-Type: TEXT/PLAIN; CHARSET=ISO-8859-1; Name=\"a b.txt\"\r\n"
    b"Content-Transfer-Encoding: QUOTED-PRINTABLE\r\n\r\nh=E9llo=\r\n world\r\n",
    # 7 last line without newline
    b"Subject: no final newline\r\n\r\nline one\r\nline two",
    # 8 folded headers and long subject
    b"Subject: a very\r\n long\r\n\tfolded subject\r\nFrom: A\r\n B <ab@x.example>\r\n\r\nx\r\n",
    # 9 empty multipart
    b"Content-Type: multipart/mixed; boundary=e\r\n\r\nno parts at all\r\n",
]
