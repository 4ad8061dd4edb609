"""The wire is strict and every reply is UTF-8 (issue 15 items 7 and 8): trailing data after the JSON
object and a NUL byte in a line are parse errors (-32700) that keep the connection; a line of exactly
1 MiB ending in "\\r\\n" is within the limit; a request echoed in an error is cut at a character
boundary and bytes that are not UTF-8 come back as U+FFFD."""
import json

from fwtest import Daemon, check, finish, guarded

d = Daemon()
with guarded(d):
    d.start()
    c = d.client()

    def raw(data):
        c.send_raw(data)
        line = c.read_line()
        if line is None:
            return None, None
        try:
            text = line.decode("utf-8")   # strict: a reply that is not UTF-8 fails here
        except UnicodeDecodeError:
            return line, None
        return line, json.loads(text)

    ok_req = b'{"jsonrpc":"2.0","id":1,"method":"jobs"}'
    line, m = raw(ok_req + b" x\n")
    check(m and m["error"]["code"] == -32700 and m["id"] is None and "trailing" in m["error"]["message"]
          and "byte %d" % (len(ok_req) + 1) in m["error"]["message"], "trailing garbage: -32700 at its byte (%s)" % line)
    line, m = raw(ok_req + b"{}\n")
    check(m and m["error"]["code"] == -32700, "a second object on the line: -32700")
    line, m = raw(b'{"jsonrpc":"2.0","id":2,"method":"jo\x00bs"}\n')
    check(m and m["error"]["code"] == -32700 and "NUL" in m["error"]["message"] and "byte 36" in m["error"]["message"],
          "NUL byte in a method name: -32700 (%s)" % line)
    line, m = raw(b'{"jsonrpc":"2.0","id":3,"method":"jobs","params":{"state":"do\x00ne"}}\n')
    check(m and m["error"]["code"] == -32700, "NUL byte in a parameter: -32700")
    line, m = raw(ok_req + b" \t\r\n")
    check(m and m.get("id") == 1 and "result" in m, "trailing whitespace and \\r\\n: accepted")

    # exactly 1 MiB before "\r\n": within the limit (an unknown parameter error, not -32003)
    head = b'{"jsonrpc":"2.0","id":4,"method":"jobs","params":{"pad":"'
    tail = b'"}}'
    body = head + b"x" * (1024 * 1024 - len(head) - len(tail)) + tail
    assert len(body) == 1024 * 1024
    line, m = raw(body + b"\r\n")
    check(m and m.get("id") == 4 and m["error"]["code"] == -32602, "a 1 MiB line ending in \\r\\n is read (%s)"
          % (m and m["error"]["code"]))

    # bytes that are not UTF-8, echoed: U+FFFD in a valid UTF-8 reply
    line, m = raw(b'{"jsonrpc":"2.0","id":5,"method":"a\xff\xfeb"}\n')
    check(m is not None and m["error"]["code"] == -32601 and "'a\ufffd\ufffdb'" in m["error"]["message"],
          "invalid UTF-8 in an echoed method: replaced, reply is UTF-8 (%r)" % line[:80])
    # a long method name cut at 40 bytes lands inside a two-byte character: cut before it
    name = "a" + "\u00e9" * 30
    line, m = raw(('{"jsonrpc":"2.0","id":6,"method":"%s"}\n' % name).encode())
    check(m is not None and ("'a" + "\u00e9" * 19 + "...'") in m["error"]["message"],
          "a long echoed method is cut at a character boundary (%r)" % line[:80])
    # long error texts built by fw_errf / reply_error are cut at a boundary too: a knob name of
    # multi-byte characters far over any buffer
    knob = "\u20ac" * 3000
    req = {"jsonrpc": "2.0", "id": 7, "method": "expand",
           "params": {"spec": {"profile": "gemm_small", "presets": [{knob: 4}]}}}
    line, m = raw((json.dumps(req, ensure_ascii=False) + "\n").encode())
    check(m is not None and m.get("id") == 7 and "error" in m and "\u20ac" in m["error"]["message"]
          and "\ufffd" not in m["error"]["message"],
          "a huge multi-byte knob name: the error is cut between characters (%r)" % line[-80:])

    check(c.call("jobs", {}) is not None, "the connection still serves after every error")
    c.close()
    d.terminate()
finish()
