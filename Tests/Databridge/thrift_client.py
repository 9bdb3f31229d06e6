#!/usr/bin/python3
"""A WSO2 databridge Thrift publisher for Tandem's tests, built on a client that Apache Thrift's
compiler generates from databridge.thrift (WSO2's IDL) at run time into a temporary folder.

Like WSO2's agent it logs in (connect) on the TLS port with the secure service and publishes
ThriftEventBundles on the plain port with the general service. Scenarios:
  errors  bad credentials, a plain-text login, an unknown stream, a malformed bundle, an unknown
          session, a dropped connection (each must get its own error) between good bundles;
  load    N events over K keys, in bundles of B events.
Prints one JSON object per line; the last one is the summary.
"""
import argparse, json, os, socket, ssl, struct, subprocess, sys, tempfile, time

here = os.path.dirname(os.path.abspath(__file__))
gen = tempfile.mkdtemp(prefix="tandem-thrift-")
subprocess.run(["thrift", "--gen", "py", "-out", gen, os.path.join(here, "databridge.thrift")], check=True)
sys.path.insert(0, gen)

from thrift.Thrift import TApplicationException  # noqa: E402
from thrift.transport import TSocket, TSSLSocket, TTransport  # noqa: E402
from thrift.protocol import TBinaryProtocol  # noqa: E402
from databridge import ThriftEventTransmissionService as General, ThriftSecureEventTransmissionService as Secure  # noqa: E402
from databridge.ttypes import (ThriftEventBundle, ThriftAuthenticationException, ThriftUndefinedEventTypeException,  # noqa: E402
                               ThriftSessionExpiredException, ThriftNoStreamDefinitionExistException)

p = argparse.ArgumentParser()
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--port", type=int, required=True)
p.add_argument("--tls-port", type=int, required=True)
p.add_argument("--ca", required=True)
p.add_argument("--user", required=True)
p.add_argument("--password", required=True)
p.add_argument("--stream", default="Sales:1.0.0")
p.add_argument("--scenario", choices=["errors", "load"], required=True)
p.add_argument("--events", type=int, default=1000)
p.add_argument("--keys", type=int, default=10)
p.add_argument("--bundle", type=int, default=1000)
a = p.parse_args()


def out(**kw):
    print(json.dumps(kw), flush=True)


def client(cls, port, tls):
    if tls:
        ctx = ssl.create_default_context(cafile=a.ca)
        sock = TSSLSocket.TSSLSocket(a.host, port, ssl_context=ctx, server_hostname="localhost")
    else:
        sock = TSocket.TSocket(a.host, port)
    sock.setTimeout(120_000)
    transport = TTransport.TBufferedTransport(sock, 1 << 16)
    # The accelerated protocol is TBinaryProtocol on the wire, encoded in C.
    proto = TBinaryProtocol.TBinaryProtocolAccelerated(transport)
    transport.open()
    return cls.Client(proto), transport


def bundle(session, rows, stream=None):
    """rows: (tenant int, tx string, key string, amount long, price float, ok bool). Wire order:
    meta (tenant), correlation (tx), payload (key, amount, price, ok); stream id and timestamp first."""
    b = ThriftEventBundle(sessionId=session, eventNum=len(rows), intAttributeList=[], longAttributeList=[],
                          doubleAttributeList=[], boolAttributeList=[], stringAttributeList=[])
    now = int(time.time() * 1000)
    for tenant, tx, key, amount, price, ok in rows:
        b.stringAttributeList += [stream or a.stream, tx, key]
        b.longAttributeList += [now, amount]
        b.intAttributeList.append(tenant)
        b.doubleAttributeList.append(price)
        b.boolAttributeList.append(ok)
    return b


def good_rows(n):
    return [(1, "tx", "good", 2, 0.5, True) for _ in range(n)]


def expect(name, call, exc_type, contains=""):
    try:
        call()
        out(check=name, ok=False, got="no error")
    except exc_type as e:
        text = getattr(e, "message", None) or str(e)
        out(check=name, ok=contains in text, got=type(e).__name__, message=text)
    except Exception as e:  # noqa: BLE001 - report whatever came instead
        out(check=name, ok=False, got=type(e).__name__, message=str(e))


if a.scenario == "errors":
    secure, st = client(Secure, a.tls_port, True)
    expect("bad credentials", lambda: secure.connect(a.user, "wrong-" + a.password), ThriftAuthenticationException, "wrong user name or password")
    plain_secure, pt = client(Secure, a.port, False)
    expect("plain-text login refused", lambda: plain_secure.connect(a.user, a.password), ThriftAuthenticationException, "not accepted in plain text")
    pt.close()
    session = secure.connect(a.user, a.password)
    out(check="login", ok=bool(session), session=session)
    general, gt = client(General, a.port, False)
    out(check="findStreamId", ok=general.findStreamId(session, "Sales", "1.0.0") == a.stream)
    expect("findStreamId unknown", lambda: general.findStreamId(session, "Nope", "1.0.0"), ThriftNoStreamDefinitionExistException, "Nope:1.0.0")
    good = 0
    for _ in range(5):
        general.publish(bundle(session, good_rows(1000)))
        good += 1000
    expect("unknown stream", lambda: general.publish(bundle(session, good_rows(3), stream="Nope:1.0.0")), ThriftUndefinedEventTypeException, "Nope:1.0.0")
    bad = bundle(session, good_rows(2))
    bad.intAttributeList = bad.intAttributeList[:1]  # event 1 lacks its meta int
    expect("malformed bundle", lambda: general.publish(bad), TApplicationException, "event 1 of 2")
    expect("unknown session", lambda: general.publish(bundle("not-a-session", good_rows(3))), ThriftSessionExpiredException, "log in again")
    # A connection dropped part way through a publish: nothing of it may be taken.
    raw = socket.create_connection((a.host, a.port))
    buf = TTransport.TMemoryBuffer()
    General.Client(TBinaryProtocol.TBinaryProtocol(buf)).send_publish(bundle(session, good_rows(500)))
    data = buf.getvalue()
    raw.sendall(data[: len(data) // 2])
    raw.close()
    out(check="dropped connection", ok=True, sentBytes=len(data) // 2, ofBytes=len(data))
    # The same session still publishes on a new connection after all that.
    gt.close()
    general, gt = client(General, a.port, False)
    for _ in range(5):
        general.publish(bundle(session, good_rows(1000)))
        good += 1000
    secure.disconnect(session)
    expect("after disconnect", lambda: general.publish(bundle(session, good_rows(1))), ThriftSessionExpiredException, "log in again")
    out(summary=True, goodEvents=good)
else:
    secure, st = client(Secure, a.tls_port, True)
    session = secure.connect(a.user, a.password)
    general, gt = client(General, a.port, False)
    totals = {}
    start = time.time()
    sent = 0
    while sent < a.events:
        n = min(a.bundle, a.events - sent)
        rows = []
        for i in range(sent, sent + n):
            key = "k%d" % (i % a.keys)
            amount = i % 7 + 1
            totals[key] = totals.get(key, 0) + amount
            rows.append((i % 3, "t%d" % (i % 5), key, amount, 0.25, i % 2 == 0))
        general.publish(bundle(session, rows))
        sent += n
    elapsed = time.time() - start
    secure.disconnect(session)
    out(summary=True, events=sent, seconds=round(elapsed, 3), eventsPerSecond=int(sent / elapsed), totals=totals)
