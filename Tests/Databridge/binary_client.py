#!/usr/bin/python3
"""A WSO2 databridge binary-transport publisher for Tandem's tests, written from WSO2's Java agent
(BinaryEventSender, BinaryMessageConverterUtil) independently of Tandem's decoder.

Messages are [type u8][size i32][body], big-endian: 0 login ([user len][password len][user]
[password]), 1 logout ([session len][session]), 2 publish ([session len][session][event count],
then per event [event size][timestamp i64][stream id len][stream id][values…]). Replies: 0 ok,
1 error ([class len][message len][class][message]), 2 session ([len][session id]).
Scenarios as in thrift_client.py, plus ha: the load through a failover, as WSO2's agent rides one
out (a publish whose connection died or that was refused is sent again, after a new login on the
node that answers). Prints JSON lines; the last is the summary.
"""
import argparse, json, socket, ssl, struct, time

p = argparse.ArgumentParser()
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--port", type=int, required=True)
p.add_argument("--tls-port", type=int, required=True)
p.add_argument("--ca", required=True)
p.add_argument("--user", required=True)
p.add_argument("--password", required=True)
p.add_argument("--stream", default="Sales:1.0.0")
p.add_argument("--scenario", choices=["errors", "load", "ha"], required=True)
p.add_argument("--events", type=int, default=1000)
p.add_argument("--keys", type=int, default=10)
p.add_argument("--bundle", type=int, default=1000)
a = p.parse_args()


def out(**kw):
    print(json.dumps(kw), flush=True)


class DatabridgeError(Exception):
    def __init__(self, cls, message):
        super().__init__(message)
        self.cls, self.message = cls, message


def connect(tls):
    s = socket.create_connection((a.host, a.tls_port if tls else a.port), timeout=120)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls:
        s = ssl.create_default_context(cafile=a.ca).wrap_socket(s, server_hostname="localhost")
    return s


def read_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError("connection closed by the receiver")
        data += chunk
    return data


def text(b):
    return struct.pack(">i", len(b)) + b


def reply(s):
    kind = read_exact(s, 1)[0]
    if kind == 0:
        return None
    if kind == 2:
        (n,) = struct.unpack(">i", read_exact(s, 4))
        return read_exact(s, n).decode()
    if kind == 1:
        cn, mn = struct.unpack(">ii", read_exact(s, 8))
        cls = read_exact(s, cn).decode()
        raise DatabridgeError(cls, read_exact(s, mn).decode())
    raise ValueError("reply type %d" % kind)


def message(kind, body):
    return struct.pack(">bi", kind, len(body)) + body


def login(s, user, password):
    u, pw = user.encode(), password.encode()
    s.sendall(message(0, struct.pack(">ii", len(u), len(pw)) + u + pw))
    return reply(s)


def logout(s, session):
    s.sendall(message(1, text(session.encode())))
    return reply(s)


def event(row, stream=None, ts=None):
    """row: (tenant int, tx string, key string, amount long, price float, ok bool); meta, then
    correlation, then payload values, each in its type's width (strings length-prefixed)."""
    tenant, tx, key, amount, price, ok = row
    body = struct.pack(">q", ts or int(time.time() * 1000)) + text((stream or a.stream).encode())
    body += struct.pack(">i", tenant) + text(tx.encode()) + text(key.encode()) + struct.pack(">qf?", amount, price, ok)
    return struct.pack(">i", len(body)) + body


def publish_bytes(session, events, count=None):
    body = text(session.encode()) + struct.pack(">i", len(events) if count is None else count) + b"".join(events)
    return message(2, body)


def publish(s, session, events, count=None):
    s.sendall(publish_bytes(session, events, count))
    return reply(s)


def good(n):
    e = event((1, "tx", "good", 2, 0.5, True))
    return [e] * n


def expect(name, call, cls_suffix, contains=""):
    try:
        call()
        out(check=name, ok=False, got="no error")
    except DatabridgeError as e:
        out(check=name, ok=e.cls.endswith(cls_suffix) and contains in e.message, got=e.cls, message=e.message)
    except Exception as e:  # noqa: BLE001
        out(check=name, ok=False, got=type(e).__name__, message=str(e))


if a.scenario == "errors":
    t = connect(True)
    expect("bad credentials", lambda: login(t, a.user, "wrong-" + a.password), "AuthenticationException", "wrong user name or password")
    plain = connect(False)
    expect("plain-text login refused", lambda: login(plain, a.user, a.password), "AuthenticationException", "not accepted in plain text")
    session = login(t, a.user, a.password)
    out(check="login", ok=bool(session), session=session)
    n_good = 0
    for _ in range(5):
        publish(t, session, good(1000))
        n_good += 1000
    expect("unknown stream", lambda: publish(t, session, [event((1, "tx", "good", 2, 0.5, True), stream="Nope:1.0.0")]),
           "UndefinedEventTypeException", "Nope:1.0.0")
    short = event((1, "tx", "good", 2, 0.5, True))
    short = struct.pack(">i", len(short) - 4 - 5) + short[4:-5]  # cut off amount's tail, price and ok
    expect("malformed bundle", lambda: publish(t, session, good(1) + [short]), "MalformedEventException", "event 1 of 2")
    expect("wrong event count", lambda: publish(t, session, good(2), count=3), "MalformedEventException", "event 2 of 3")
    expect("unknown session", lambda: publish(t, "not-a-session", good(1)), "SessionTimeoutException", "log in again")
    # A publish on the plain port with the session from the TLS login (sessions are per node).
    publish(plain, session, good(1000))
    n_good += 1000
    # A connection dropped part way through a publish: nothing of it may be taken.
    raw = connect(False)
    data = publish_bytes(session, good(500))
    raw.sendall(data[: len(data) // 2])
    raw.close()
    out(check="dropped connection", ok=True, sentBytes=len(data) // 2, ofBytes=len(data))
    # An unknown message type: an error, then the receiver closes that connection.
    odd = connect(False)
    odd.sendall(struct.pack(">bi", 7, 0))
    expect("unknown message type", lambda: reply(odd), "MalformedEventException", "type 7")
    for _ in range(4):
        publish(t, session, good(1000))
        n_good += 1000
    logout(t, session)
    expect("after logout", lambda: publish(t, session, good(1)), "SessionTimeoutException", "log in again")
    out(summary=True, goodEvents=n_good)
elif a.scenario == "ha":
    def session_on_active():
        deadline = time.time() + 120
        while True:
            try:
                c = connect(True)
                return c, login(c, a.user, a.password)
            except (OSError, EOFError, DatabridgeError):
                if time.time() > deadline:
                    raise
                time.sleep(0.1)

    t, session = session_on_active()
    sent = 0
    uncertain = 0  # publishes whose outcome was unknown (connection lost, or the node stopped being active)
    resent = 0
    while sent < a.events:
        n = min(a.bundle, a.events - sent)
        events = [event((0, "t", "k%d" % (i % a.keys), i % 7 + 1, 0.25, True)) for i in range(sent, sent + n)]
        while True:
            try:
                publish(t, session, events)
                break
            except DatabridgeError as e:
                resent += 1
                if not e.cls.endswith("SessionTimeoutException"):
                    uncertain += 1
            except (OSError, EOFError):
                resent += 1
                uncertain += 1
            t.close()
            t, session = session_on_active()
        sent += n
        out(progress=sent)
    out(summary=True, events=sent, resent=resent, uncertain=uncertain)
else:
    t = connect(True)
    session = login(t, a.user, a.password)
    totals = {}
    encoded = {}
    start = time.time()
    sent = 0
    now = int(time.time() * 1000)
    while sent < a.events:
        n = min(a.bundle, a.events - sent)
        events = []
        for i in range(sent, sent + n):
            key = "k%d" % (i % a.keys)
            amount = i % 7 + 1
            totals[key] = totals.get(key, 0) + amount
            row = (i % 3, "t%d" % (i % 5), key, amount, 0.25, i % 2 == 0)
            e = encoded.get(row)
            if e is None:
                e = encoded[row] = event(row, ts=now)
            events.append(e)
        publish(t, session, events)
        sent += n
    elapsed = time.time() - start
    logout(t, session)
    out(summary=True, events=sent, seconds=round(elapsed, 3), eventsPerSecond=int(sent / elapsed), totals=totals)
