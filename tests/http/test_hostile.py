"""test_hostile.py: the bad-input catalogue (issue 8). One table of hostile
requests over every route family (tiles and TileJSON, /nearest, /within,
/locate, items and single items, townships, exports, the map wall's files,
the JSON and CAP feeds, /events, /metrics, /healthz): path traversal, %00
and overlong UTF-8, giant numbers, NaN, huge bodies, wrong content types,
JSON and XML nested 10,000 deep, CAP with external entities and billion
laughs, SQL-looking values, unknown departments, stolen and revoked tokens,
and broken HTTP. Each row must be answered with its 4xx RFC 9457 problem
naming the offending parameter, and after every row situd must still run
and answer /healthz within a second. Then nothing may have changed: the
snapshot version, every collection's count, the event log and /feeds.

A row is (name, method, path, headers, body, status, param). Its name starts
with its category. "{met}", "{water}", "{revoked}" and "{hazard}" are filled
in at run time. Method RAW sends `body` as the literal bytes of the request
on a socket (for what urllib would refuse or normalise: raw bytes, "..",
a missing Host, wrong Content-Length). A row whose param is MHD is refused by
libmicrohttpd before situd sees it, with MHD's own HTML body: only its status
is checked."""

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedlib  # noqa: E402
import situd  # noqa: E402
from feedlib import utc  # noqa: E402

MHD = "<refused by libmicrohttpd>"
MAX_BODY = 2 << 20  # situd's max_body_bytes in this suite, so "too large" is cheap to send
ALIVE_S = 1.0
REFRESH_S = 2.0  # README: added and revoked tokens hold within a second; 1 s of slack

JSON = {"Authorization": "Bearer {met}", "Content-Type": "application/json"}
CAP = {"Authorization": "Bearer {met}", "Content-Type": "application/cap+xml"}
EV = "/feeds/meteorology/events"
CP = "/feeds/meteorology/cap"
CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"


def obs(value):
    """One observation batch with `value` spliced in verbatim (not valid JSON on purpose)."""
    return ('{"events": [{"id": "h-1", "type": "observation", "station": "RG0", '
            '"observed_at": "2024-06-01T08:00:00Z", "metric": "rain_1h_mm", "value": %s}]}'
            % value).encode()


def cap(ident="H-CAP", area="<circle>26.05,111.05 2</circle>", status="Actual", pad=""):
    now = time.time()
    return ('<?xml version="1.0" encoding="UTF-8"?><alert xmlns="%s"><identifier>%s</identifier>'
            '<sender>yzqx@hunan.gov.cn</sender><sent>%s</sent><status>%s</status>'
            '<msgType>Alert</msgType><scope>Public</scope><info><event>暴雨</event>'
            '<urgency>Immediate</urgency><severity>Severe</severity><certainty>Likely</certainty>'
            '<onset>%s</onset><expires>%s</expires><area><areaDesc>零陵区</areaDesc>%s</area>'
            '</info>%s</alert>' % (CAP_NS, ident, utc(now), status, utc(now - 60), utc(now + 3600),
                                   area, pad)).encode()


def laughs():
    ents = ['<!ENTITY lol "lol">'] + ['<!ENTITY lol%d "%s">' % (i, ("&lol%s;" % (
        i - 1 if i > 1 else "")) * 10) for i in range(1, 10)]
    return ('<?xml version="1.0"?><!DOCTYPE alert [%s]><alert xmlns="%s">&lol9;</alert>'
            % ("".join(ents), CAP_NS)).encode()


def raw_req(method, target, headers=(), body=b"", host=True):
    """The bytes of one HTTP/1.1 request (target as bytes, sent untouched)."""
    lines = [b"%s %s HTTP/1.1" % (method.encode(), target)]
    if host:
        lines.append(b"Host: 127.0.0.1")
    lines += [h if isinstance(h, bytes) else h.encode() for h in headers]
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


DEEP = 10000
BIG_URI = raw_req("GET", b"/collections/" + b"a" * 70000)
BIG_HEADER = raw_req("GET", b"/healthz", [b"X-Big: " + b"a" * 70000])
MANY_HEADERS = raw_req("GET", b"/healthz", [b"X-H%d: y" % i for i in range(6000)])
FEED_AUTH = ["Authorization: Bearer {met}", "Content-Type: application/json"]

# (name, method, path, headers, body, status, param)
CASES = [
    # ---- /tiles/{set}/{z}/{x}/{y}.mvt and /tiles/{set}.json --------------------------------
    ("traversal: tile set ../../etc/passwd", "GET",
     "/tiles/..%2F..%2Fetc%2Fpasswd/0/0/0.mvt", {}, None, 404, "set"),
    ("traversal: raw .. in the tile path", "RAW", "/tiles/all/../../etc/0/0.mvt", {},
     raw_req("GET", b"/tiles/all/../../etc/0/0.mvt"), 400, "z"),
    ("nul: %00 before a second extension", "GET", "/tiles/hazards/0/0/0.mvt%00.png", {}, None,
     404, None),
    ("utf8: overlong '.' bytes as the tile set", "RAW", "/tiles/\\xc0\\xae\\xc0\\xae/0/0/0.mvt", {},
     raw_req("GET", b"/tiles/\xc0\xae\xc0\xae/0/0/0.mvt"), 404, "set"),
    ("number: z of 20 digits", "GET", "/tiles/hazards/99999999999999999999/0/0.mvt", {}, None,
     400, "z"),
    ("number: z above the maximum zoom", "GET", "/tiles/all/23/0/0.mvt", {}, None, 400, "z"),
    ("number: x outside the zoom", "GET", "/tiles/all/3/8/0.mvt", {}, None, 400, "x"),
    ("number: negative y", "GET", "/tiles/all/3/0/-1.mvt", {}, None, 400, "y"),
    ("nan: x is NaN", "GET", "/tiles/all/3/NaN/0.mvt", {}, None, 400, "x"),
    ("path: tile path of two parts", "GET", "/tiles/hazards/1/2.mvt", {}, None, 404, None),
    ("path: tile of another format", "GET", "/tiles/hazards/0/0/0.png", {}, None, 404, None),
    ("sql: tile set with a statement", "GET", "/tiles/hazards;DROP%20TABLE%20hazards/0/0/0.mvt",
     {}, None, 404, "set"),
    ("param: tile with a query", "GET", "/tiles/all/0/0/0.mvt?z=1", {}, None, 400, "z"),
    ("path: unknown TileJSON set", "GET", "/tiles/users.json", {}, None, 404, "set"),
    ("param: TileJSON as XML", "GET", "/tiles/all.json?f=xml", {}, None, 400, "f"),
    ("method: POST a tile", "POST", "/tiles/all/0/0/0.mvt", {}, b"x", 405, None),

    # ---- /nearest, /within, /locate ------------------------------------------------------
    ("nan: nearest lon=NaN", "GET", "/nearest?lon=NaN&lat=26", {}, None, 400, "lon"),
    ("nan: nearest lat=-Infinity", "GET", "/nearest?lon=111&lat=-Infinity", {}, None, 400,
     "lat"),
    ("number: nearest lon=1e309", "GET", "/nearest?lon=1e309&lat=26", {}, None, 400, "lon"),
    ("number: nearest k of 20 digits", "GET", "/nearest?lon=111&lat=26&k=99999999999999999999",
     {}, None, 400, "k"),
    ("number: nearest k=0", "GET", "/nearest?lon=111&lat=26&k=0", {}, None, 400, "k"),
    ("nan: nearest min_qty=nan", "GET", "/nearest?lon=111&lat=26&item=sandbag&min_qty=nan", {},
     None, 400, "min_qty"),
    ("number: nearest max_km=-1", "GET", "/nearest?lon=111&lat=26&max_km=-1", {}, None, 400,
     "max_km"),
    ("sql: nearest collection", "GET",
     "/nearest?lon=111&lat=26&collection=resources'%20OR%20'1'='1", {}, None, 400,
     "collection"),
    ("nul: nearest item=%00", "GET", "/nearest?lon=111&lat=26&item=%00", {}, None, 400, "item"),
    ("param: nearest crs=EPSG:3857", "GET", "/nearest?lon=111&lat=26&crs=EPSG:3857", {}, None,
     400, "crs"),
    ("param: nearest without lat", "GET", "/nearest?lon=111", {}, None, 400, "lat"),
    ("param: nearest as XML", "GET", "/nearest?lon=111&lat=26&f=xml", {}, None, 400, "f"),
    ("param: nearest with 40 arguments", "GET",
     "/nearest?lon=111&lat=26&" + "&".join("p%d=1" % i for i in range(40)), {}, None, 400,
     "p30"),
    ("nan: within radius_m=nan", "GET", "/within?lon=111&lat=26&radius_m=nan", {}, None, 400,
     "radius_m"),
    ("number: within radius_m=1e308", "GET", "/within?lon=111&lat=26&radius_m=1e308", {}, None,
     400, "radius_m"),
    ("param: within without radius_m", "GET", "/within?lon=111&lat=26", {}, None, 400,
     "radius_m"),
    ("traversal: within collection=../../etc", "GET",
     "/within?lon=111&lat=26&radius_m=100&collection=..%2F..%2Fetc", {}, None, 400,
     "collection"),
    ("nul: locate lon=111%00", "GET", "/locate?lon=111%00&lat=26", {}, None, 400, "lon"),
    ("number: locate lat=1e999", "GET", "/locate?lon=111&lat=1e999", {}, None, 400, "lat"),
    ("nan: locate lon=nan", "GET", "/locate?lon=nan&lat=26", {}, None, 400, "lon"),
    ("utf8: locate lon of overlong digits", "RAW", "/locate?lon=%C0%B1%C0%B1&lat=26", {},
     raw_req("GET", b"/locate?lon=%C0%B1%C0%B1&lat=26"), 400, "lon"),
    ("param: locate as HTML", "GET", "/locate?lon=111&lat=26&f=html", {}, None, 400, "f"),
    ("param: locate with k", "GET", "/locate?lon=111&lat=26&k=1", {}, None, 400, "k"),

    # ---- /collections/{id}/items and /collections/{id}/items/{fid} -----------------------
    ("number: items limit of 20 digits", "GET",
     "/collections/hazards/items?limit=99999999999999999999", {}, None, 400, "limit"),
    ("nan: items limit=NaN", "GET", "/collections/hazards/items?limit=NaN", {}, None, 400,
     "limit"),
    ("number: items offset of 23 digits", "GET",
     "/collections/hazards/items?offset=99999999999999999999999", {}, None, 400, "offset"),
    ("number: items offset=-1", "GET", "/collections/hazards/items?offset=-1", {}, None, 400,
     "offset"),
    ("nan: items bbox of NaN", "GET", "/collections/hazards/items?bbox=nan,nan,nan,nan", {},
     None, 400, "bbox"),
    ("nan: items bbox with inf", "GET", "/collections/hazards/items?bbox=-inf,0,inf,10", {},
     None, 400, "bbox"),
    ("number: items bbox of 1e308", "GET",
     "/collections/hazards/items?bbox=-1e308,-1e308,1e308,1e308", {}, None, 400, "bbox"),
    ("number: items bbox of 400 numbers", "GET",
     "/collections/hazards/items?bbox=" + ",".join(["1"] * 400), {}, None, 400, "bbox"),
    ("sql: items status=open' OR '1'='1", "GET",
     "/collections/hazards/items?status=open'%20OR%20'1'='1", {}, None, 400, "status"),
    ("sql: items grade=1;DROP TABLE", "GET",
     "/collections/hazard_sources/items?grade=1;DROP%20TABLE%20hazard_sources", {}, None, 400,
     "grade"),
    ("sql: items filter 1=1", "GET", "/collections/hazards/items?1=1", {}, None, 400, "1"),
    ("param: items datetime (not offered)", "GET",
     "/collections/hazards/items?datetime=2024-01-01T00:00:00Z/..", {}, None, 400, "datetime"),
    ("param: items as XML", "GET", "/collections/hazards/items?f=xml", {}, None, 400, "f"),
    ("nul: items f=json%00", "GET", "/collections/hazards/items?f=json%00", {}, None, 400, "f"),
    ("utf8: items status of overlong bytes", "RAW", "/collections/hazards/items?status=%C0%AE",
     {}, raw_req("GET", b"/collections/hazards/items?status=%C0%AE"), 400, "status"),
    ("path: items of an unknown collection", "GET", "/collections/users/items", {}, None, 404,
     None),
    ("traversal: collection ../../etc/passwd", "GET",
     "/collections/..%2F..%2Fetc%2Fpasswd/items", {}, None, 404, None),
    ("traversal: feature id ../../etc/passwd", "GET",
     "/collections/hazards/items/..%2F..%2Fetc%2Fpasswd", {}, None, 404, None),
    ("nul: feature id with %00", "GET", "/collections/hazards/items/{hazard}%00", {}, None, 404,
     None),
    ("sql: feature id ' OR 1=1--", "GET", "/collections/hazards/items/'%20OR%201=1--", {}, None,
     404, None),
    ("path: feature id of 5000 bytes", "GET", "/collections/hazards/items/" + "x" * 5000, {},
     None, 404, None),
    ("param: feature as XML", "GET", "/collections/hazards/items/{hazard}?f=xml", {}, None, 400,
     "f"),
    ("method: DELETE a feature", "DELETE", "/collections/hazards/items/{hazard}", {}, None, 405,
     None),

    # ---- /townships/{code}, /townships/{code}/export, /export/... ------------------------
    ("path: unknown township", "GET", "/townships/999999999", {}, None, 404, None),
    ("sql: township ' OR '1'='1", "GET", "/townships/431102001'%20OR%20'1'='1", {}, None, 404,
     None),
    ("traversal: township ../../etc/passwd", "GET", "/townships/..%2F..%2Fetc%2Fpasswd", {},
     None, 404, None),
    ("nul: township code with %00", "GET", "/townships/431102001%00", {}, None, 404, None),
    ("number: township code of 5000 digits", "GET", "/townships/" + "9" * 5000, {}, None, 404,
     None),
    ("path: /townships/{code}/export (exports are /export/)", "GET",
     "/townships/431102001/export", {}, None, 404, None),
    ("param: township as XML", "GET", "/townships/431102001?f=xml", {}, None, 400, "f"),
    ("param: township with a filter", "GET", "/townships/431102001?bbox=0,0,1,1", {}, None, 400,
     "bbox"),
    ("number: townships limit of 5000 digits", "GET", "/townships?limit=" + "9" * 5000, {}, None,
     400, "limit"),
    ("number: townships offset of 5000 digits", "GET", "/townships?offset=" + "9" * 5000, {},
     None, 400, "offset"),
    ("sql: townships county=1' OR '1'='1", "GET", "/townships?county=1'%20OR%20'1'='1", {}, None,
     400, "county"),
    ("nul: townships county with %00", "GET", "/townships?county=431102%00", {}, None, 400,
     "county"),
    ("traversal: county ../../etc/passwd", "GET", "/counties/..%2F..%2Fetc%2Fpasswd", {}, None,
     404, None),
    ("param: counties with a filter", "GET", "/counties?bbox=0,0,1,1", {}, None, 400, "bbox"),
    ("sql: export township=1' OR '1'='1", "GET",
     "/export/hazards.geojson?township=1'%20OR%20'1'='1", {}, None, 404, "township"),
    ("nan: export bbox of NaN", "GET", "/export/hazards.geojson?bbox=NaN,0,1,1", {}, None, 400,
     "bbox"),
    ("number: drill of 300 townships", "GET",
     "/export/drill.geojson?townships=" + ",".join(["431102001"] * 300), {}, None, 400,
     "townships"),
    ("param: drill of only commas", "GET", "/export/drill.geojson?townships=,,,,", {}, None, 400,
     "townships"),
    ("path: drill of an unknown township", "GET", "/export/drill.geojson?townships=999999999",
     {}, None, 404, "townships"),
    ("path: export as Shapefile", "GET", "/export/hazards.shp", {}, None, 404, None),
    ("traversal: export ../../etc/passwd", "GET", "/export/..%2F..%2Fetc%2Fpasswd.geojson", {},
     None, 404, None),

    # ---- /web/ files (web_dir holds index.html, app.js, notes.txt and a symlink out) -------
    ("traversal: raw /web/../secret.txt", "RAW", "/web/../secret.txt", {},
     raw_req("GET", b"/web/../secret.txt"), 404, None),
    ("traversal: /web/%2e%2e/secret.txt", "GET", "/web/%2e%2e/secret.txt", {}, None, 404, None),
    ("traversal: /web/..%2fsecret.txt", "GET", "/web/..%2fsecret.txt", {}, None, 404, None),
    ("traversal: /web/..\\secret.txt", "RAW", "/web/..\\secret.txt", {},
     raw_req("GET", b"/web/..\\secret.txt"), 404, None),
    ("traversal: /web//etc/passwd", "RAW", "/web//etc/passwd", {},
     raw_req("GET", b"/web//etc/passwd"), 404, None),
    ("traversal: a symlink out of web_dir", "GET", "/web/leak.js", {}, None, 404, None),
    ("traversal: a hidden file", "GET", "/web/.env", {}, None, 404, None),
    ("utf8: raw overlong '..' bytes", "RAW", "/web/\\xc0\\xae\\xc0\\xae/secret.txt", {},
     raw_req("GET", b"/web/\xc0\xae\xc0\xae/secret.txt"), 404, None),
    ("utf8: %-encoded overlong '..'", "GET", "/web/%c0%ae%c0%ae/secret.txt", {}, None, 404,
     None),
    ("nul: /web/index.html%00.png", "GET", "/web/index.html%00.png", {}, None, 404, None),
    ("path: a file of a type not served", "GET", "/web/notes.txt", {}, None, 404, None),
    ("method: PUT a web file", "PUT", "/web/app.js", {}, b"alert(1)", 405, None),

    # ---- POST /feeds/{dept}/events and /feeds/{dept}/cap ----------------------------------
    ("token: no Authorization", "POST", EV, {"Content-Type": "application/json"},
     b'{"events": []}', 401, "Authorization"),
    ("token: garbage bearer", "POST", EV, dict(JSON, Authorization="Bearer situ_" + "A" * 43),
     b'{"events": []}', 401, "Authorization"),
    ("token: bearer of 10,000 bytes", "POST", EV, dict(JSON, Authorization="Bearer " + "t" * 10000),
     b'{"events": []}', 401, "Authorization"),
    ("token: revoked", "POST", "/feeds/forestry/events",
     dict(JSON, Authorization="Bearer {revoked}"), b'{"events": []}', 401, "Authorization"),
    ("token: Basic instead of Bearer", "POST", EV, dict(JSON, Authorization="Basic {met}"),
     b'{"events": []}', 401, "Authorization"),
    ("token: in the query, not the header", "POST", EV + "?access_token={met}",
     {"Content-Type": "application/json"}, b'{"events": []}', 401, "Authorization"),
    ("token: stolen (water_resources' on meteorology)", "POST", EV,
     dict(JSON, Authorization="Bearer {water}"), b'{"events": []}', 403, "Authorization"),
    ("token: stolen, on CAP", "POST", CP, dict(CAP, Authorization="Bearer {water}"), cap(), 403,
     "Authorization"),
    ("dept: unknown department", "POST", "/feeds/ministry_of_magic/events", JSON,
     b'{"events": []}', 404, None),
    ("dept: SQL-looking department", "POST", "/feeds/meteorology';--/events", JSON,
     b'{"events": []}', 404, None),
    ("dept: ../meteorology", "POST", "/feeds/..%2Fmeteorology/events", JSON, b'{"events": []}',
     404, None),
    ("dept: upper-case department", "POST", "/feeds/METEOROLOGY/events", JSON, b'{"events": []}',
     404, None),
    ("path: unknown feed kind", "POST", "/feeds/meteorology/telegrams", JSON, b'{"events": []}',
     404, None),
    ("method: GET a feed", "GET", EV, {}, None, 405, None),
    ("param: feed with a query", "POST", EV + "?dry_run=1", JSON, b'{"events": []}', 400,
     "dry_run"),
    ("ctype: events as text/plain", "POST", EV, dict(JSON, **{"Content-Type": "text/plain"}),
     b'{"events": []}', 415, "Content-Type"),
    ("ctype: events as a form", "POST", EV,
     dict(JSON, **{"Content-Type": "application/x-www-form-urlencoded"}), b"events=1", 415,
     "Content-Type"),
    ("ctype: events as XML", "POST", EV, dict(JSON, **{"Content-Type": "application/xml"}),
     cap(), 415, "Content-Type"),
    ("ctype: events without Content-Type", "RAW", EV, {},
     raw_req("POST", EV.encode(), ["Authorization: Bearer {met}", "Content-Length: 14"],
             b'{"events": []}'), 415, "Content-Type"),
    ("ctype: CAP as JSON", "POST", CP, dict(CAP, **{"Content-Type": "application/json"}),
     b'{"events": []}', 415, "Content-Type"),
    ("nan: value NaN", "POST", EV, JSON, obs("NaN"), 400, "body"),
    ("nan: value Infinity", "POST", EV, JSON, obs("Infinity"), 400, "body"),
    ("number: value 1e999", "POST", EV, JSON, obs("1e999"), 400, "body"),
    ("number: value -1e999", "POST", EV, JSON, obs("-1e999"), 400, "body"),
    ("number: value of 40 digits", "POST", EV, JSON, obs("1" * 40), 400, "body"),
    ("nesting: arrays 10,000 deep", "POST", EV, JSON,
     b'{"events": ' + b"[" * DEEP + b"]" * DEEP + b"}", 400, "body"),
    ("nesting: objects 10,000 deep", "POST", EV, JSON,
     b'{"events": [], "x": ' + b'{"a":' * DEEP + b"1" + b"}" * DEEP + b"}", 400, "body"),
    ("utf8: overlong bytes in a JSON string", "POST", EV, JSON,
     b'{"events": [{"id": "\xc0\xaf", "type": "camera"}]}', 400, "body"),
    ("nul: \\u0000 in a JSON string", "POST", EV, JSON,
     b'{"events": [{"id": "a\\u0000b", "type": "camera"}]}', 400, "body"),
    ("utf8: a lone surrogate", "POST", EV, JSON,
     b'{"events": [{"id": "\\ud800", "type": "camera"}]}', 400, "body"),
    ("body: duplicate keys", "POST", EV, JSON, b'{"events": [], "events": []}', 400, "body"),
    ("body: a bare array", "POST", EV, JSON, b'[{"id": "x"}]', 400, "body"),
    ("body: empty", "POST", EV, JSON, b"", 400, "body"),
    ("body: trailing garbage", "POST", EV, JSON, b'{"events": []} DROP TABLE event_log', 400,
     "body"),
    ("body: 10,001 events", "POST", EV, JSON, b'{"events": [' + b",".join([b"{}"] * 10001) + b"]}",
     413, "body"),
    ("body: over max_body_bytes", "POST", EV, JSON,
     b'{"events": [], "pad": "' + b"x" * (MAX_BODY + 4096) + b'"}', 413, "body"),
    ("body: Content-Length shorter than the body", "RAW", EV, {},
     raw_req("POST", EV.encode(), FEED_AUTH + ["Content-Length: 5"], b'{"events": []}'), 400,
     "body"),
    ("xml: external entity (XXE)", "POST", CP, CAP,
     ('<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
      '<alert xmlns="%s"><identifier>&xxe;</identifier></alert>' % CAP_NS).encode(), 400,
     "body"),
    ("xml: external DTD", "POST", CP, CAP,
     ('<?xml version="1.0"?><!DOCTYPE alert SYSTEM "http://127.0.0.1:9/cap.dtd">'
      '<alert xmlns="%s"/>' % CAP_NS).encode(), 400, "body"),
    ("xml: parameter entity", "POST", CP, CAP,
     ('<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY %% p SYSTEM "http://127.0.0.1:9/x"> %%p;]>'
      '<alert xmlns="%s"/>' % CAP_NS).encode(), 400, "body"),
    ("xml: billion laughs", "POST", CP, CAP, laughs(), 400, "body"),
    ("xml: XInclude of /etc/passwd", "POST", CP, CAP,
     b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd" parse="text"/>',
     400, "body"),
    ("nesting: XML 10,000 deep", "POST", CP, CAP,
     cap(pad="<a>" * DEEP + "</a>" * DEEP), 400, "body"),
    ("xml: CAP 1.1, not 1.2", "POST", CP, CAP,
     b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.1"/>', 400, "body"),
    ("nul: a NUL byte in CAP", "POST", CP, CAP, cap().replace(b"Public", b"Pub\x00lic"), 400,
     "body"),
    ("utf8: overlong bytes in CAP", "POST", CP, CAP, cap().replace(b"H-CAP", b"H-\xc0\xae"), 400,
     "body"),
    ("nan: CAP circle of radius nan", "POST", CP, CAP,
     cap(area="<circle>26.05,111.05 nan</circle>"), 400, "body"),
    ("number: CAP polygon at 1e308", "POST", CP, CAP,
     cap(area="<polygon>1e308,1e308 1e308,-1e308 -1e308,-1e308 1e308,1e308</polygon>"), 400,
     "body"),
    ("body: CAP over 1 MiB", "POST", CP, CAP, cap(pad="<!--" + "x" * (1 << 20) + "-->"), 413,
     "body"),
    ("xml: CAP status Test never reaches the map", "POST", CP, CAP, cap(status="Test"), 422,
     "status"),

    # ---- /events (SSE) -----------------------------------------------------------------------
    ("number: since of 23 digits", "GET", "/events?since=99999999999999999999999", {}, None, 400,
     "since"),
    ("number: since=-1", "GET", "/events?since=-1", {}, None, 400, "since"),
    ("nan: since=NaN", "GET", "/events?since=NaN", {}, None, 400, "since"),
    ("nul: since=1%00", "GET", "/events?since=1%00", {}, None, 400, "since"),
    ("number: Last-Event-ID of 1e3", "GET", "/events", {"Last-Event-ID": "1e3"}, None, 400,
     "Last-Event-ID"),
    ("param: events with a filter", "GET", "/events?collection=alerts", {}, None, 400,
     "collection"),
    ("method: POST to events", "POST", "/events", {}, b"data: x\n\n", 405, None),

    # ---- /metrics, /healthz ------------------------------------------------------------------
    ("param: metrics with a query", "GET", "/metrics?name[]=situd", {}, None, 400, "name[]"),
    ("method: DELETE metrics", "DELETE", "/metrics", {}, None, 405, None),
    ("param: healthz with a query", "GET", "/healthz?verbose=1", {}, None, 400, "verbose"),
    ("method: POST healthz", "POST", "/healthz", {}, b"{}", 405, None),
    ("body: GET healthz with a body", "GET", "/healthz", {}, b"{}", 400, "body"),
    ("body: GET items with a chunked body", "RAW", "/collections/hazards/items", {},
     raw_req("GET", b"/collections/hazards/items", ["Transfer-Encoding: chunked"],
             b"2\r\n{}\r\n0\r\n\r\n"), 400, "body"),
    ("nul: /healthz%00.json", "GET", "/healthz%00.json", {}, None, 404, None),

    # ---- HTTP itself ----------------------------------------------------------------------------
    ("protocol: HTTP/1.1 without Host", "RAW", "/healthz", {},
     raw_req("GET", b"/healthz", host=False), 400, "Host"),
    ("protocol: URI of 70,000 bytes", "RAW", "/collections/aaa...", {}, BIG_URI, 414, MHD),
    ("protocol: a header of 70,000 bytes", "RAW", "/healthz", {}, BIG_HEADER, 431, MHD),
    ("protocol: 6,000 headers", "RAW", "/healthz", {}, MANY_HEADERS, 431, MHD),
    ("body: Content-Length abc", "RAW", EV, {},
     raw_req("POST", EV.encode(), FEED_AUTH + ["Content-Length: abc"], b"{}"), 400, MHD),
    ("body: Content-Length of 23 digits", "RAW", EV, {},
     raw_req("POST", EV.encode(), FEED_AUTH + ["Content-Length: 99999999999999999999999"],
             b"{}"), 413, MHD),
    ("body: chunk size zzzz", "RAW", EV, {},
     raw_req("POST", EV.encode(), FEED_AUTH + ["Transfer-Encoding: chunked"],
             b"zzzz\r\nabc\r\n0\r\n\r\n"), 400, MHD),
]


class Raw:
    """What a raw socket got back: the first response's status, headers, body."""

    @staticmethod
    def send(port, data, timeout=10.0):
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        got = b""
        try:
            try:
                s.sendall(data)
            except OSError:
                pass  # refused early: the answer may already be waiting
            while True:
                try:
                    k = s.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    break
                if not k:
                    break
                got += k
        finally:
            s.close()
        head, _, body = got.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
        if not m:
            return situd.Response(0, {}, got[:300])
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        n = int(headers.get("Content-Length", len(body)))
        return situd.Response(int(m.group(1)), headers, body[:n])


class HostileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-hostile-")
        cls.db = situd.demo_db(cls.tmp)
        cls.tokens = {"met": feedlib.add_token(cls.db, "meteorology"),
                      "water": feedlib.add_token(cls.db, "water_resources"),
                      "revoked": feedlib.add_token(cls.db, "forestry"),
                      "telecom": feedlib.add_token(cls.db, "telecom")}
        cls.revoke("forestry")
        cls.conf = cls.web_dir()
        cls.d = situd.Situd(cls.db, "--quiet", "--config", cls.conf)
        cls.fill = dict(cls.tokens, hazard=cls.d.get(
            "/collections/hazards/items?limit=1").json()["features"][0]["id"])
        cls.before = cls.state()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop_cleanly()
        for p in (cls.tmp, os.path.dirname(cls.conf)):
            shutil.rmtree(p, ignore_errors=True)

    @classmethod
    def revoke(cls, dept):
        out = subprocess.run([situd.SITU, "token", "list", "--db", cls.db], check=True,
                             capture_output=True, text=True).stdout
        ids = [line.split()[0] for line in out.splitlines()[1:]
               if line.split()[1:2] == [dept] and line.split()[4] == "-"]
        subprocess.run([situd.SITU, "token", "revoke", ids[0], "--db", cls.db], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @classmethod
    def web_dir(cls):
        """A web_dir with two files, a file of a type not served and a symlink
        to secret.txt beside it; returns the config file that names it."""
        top = tempfile.mkdtemp(prefix="situ-hostile-web-")
        web = os.path.join(top, "web")
        os.mkdir(web)
        for name, text in (("index.html", "<!doctype html><title>wall</title>"),
                           ("app.js", "console.log('wall');"), ("notes.txt", "not served"),
                           ("../secret.txt", "SECRET")):
            with open(os.path.join(web, name), "w") as f:
                f.write(text)
        os.symlink(os.path.join(top, "secret.txt"), os.path.join(web, "leak.js"))
        for p in (top, web):
            os.chmod(p, 0o755)  # situd serves as `nobody` when the suite runs as root
        conf = os.path.join(top, "situd.ini")
        with open(conf, "w") as f:
            f.write("[server]\nmax_body_bytes = %d\n[web]\ndir = %s\n" % (MAX_BODY, web))
        return conf

    @classmethod
    def state(cls):
        """What a hostile request must not change."""
        d = cls.d
        feeds = d.get("/feeds").json()["departments"]
        db = sqlite3.connect("file:%s?mode=ro" % cls.db, uri=True)
        try:
            log = db.execute("SELECT count(*), coalesce(max(seq), 0) FROM event_log").fetchone()
        finally:
            db.close()
        return {
            "snapshot": d.get("/healthz").json()["snapshot_version"],
            "counts": {c["id"]: c["numberOfFeatures"]
                       for c in d.get("/collections").json()["collections"]},
            "alerts": d.get("/collections/alerts/items?limit=1").json()["numberMatched"],
            "event_log": list(log),
            "feeds": {f["code"]: (f["last_event"], f["events_24h"]) for f in feeds},
        }

    def fill_in(self, v):
        if isinstance(v, bytes):
            for k, t in self.fill.items():
                v = v.replace(b"{%s}" % k.encode(), t.encode())
            return v
        return v.format(**self.fill) if isinstance(v, str) else v

    def send(self, method, path, headers, body):
        if method == "RAW":
            return Raw.send(self.d.port, self.fill_in(body))
        headers = {k: self.fill_in(v) for k, v in headers.items()}
        return self.d.request(method, self.fill_in(path), body=body, headers=headers)

    def assert_alive(self, after):
        self.assertIsNone(self.d.proc.poll(), "situd died after: %s\n%s" % (
            after, self.d.read_log()))
        t0 = time.time()
        r = self.d.request("GET", "/healthz", timeout=ALIVE_S)
        self.assertEqual(r.status, 200, "not healthy after: " + after)
        self.assertLess(time.time() - t0, ALIVE_S, "slow /healthz after: " + after)

    def test_catalogue(self):
        names = [c[0] for c in CASES]
        self.assertGreaterEqual(len(CASES), 80)
        self.assertEqual(len(names), len(set(names)), "case names must be unique")
        self.assertEqual(self.d.get("/web/app.js").status, 200)  # so its 404s mean something
        for name, method, path, headers, body, status, param in CASES:
            with self.subTest(case=name):
                r = self.send(method, path, headers, body)
                if param is MHD:
                    self.assertEqual(r.status, status, r.body[:300])
                else:
                    doc = situd.assert_problem(self, r, status, param)
                    if param is None:
                        self.assertNotIn("parameter", doc)
                    self.assertNotIn("SECRET", r.body.decode("utf-8", "replace"))
                self.assert_alive(name)
        self.assertEqual(self.state(), self.before, "a hostile request changed something")

    def test_hostile_events_are_rejected_one_by_one(self):
        """Events that parse are judged one by one (200, each rejected, its
        field named), and none is applied."""
        far = {"type": "Polygon", "coordinates": [[[1e308, 0], [1e308, 1], [0, 1], [1e308, 0]]]}
        now = utc(time.time())
        events = [
            ({"id": "h-lon", "type": "observation", "station": "H-NEW", "observed_at": now,
              "metric": "rain_1h_mm", "value": 1, "lon": 1e308, "lat": 26}, "lon"),
            ({"id": "h-station", "type": "observation", "station": "../../etc/passwd",
              "observed_at": now, "metric": "rain_1h_mm", "value": 1}, "station"),
            ({"id": "h-metric", "type": "observation", "station": "RG0", "observed_at": now,
              "metric": "rain'; DROP TABLE stations;--", "value": 1}, "metric"),
            ({"id": "h-time", "type": "observation", "station": "RG0",
              "observed_at": "9999-99-99T99:99:99Z", "metric": "rain_1h_mm", "value": 1},
             "observed_at"),
            ({"id": "h-status", "type": "camera", "station": "RG0", "observed_at": now,
              "status": "online\n"}, "status"),
            ({"id": "x" * 10000, "type": "camera"}, "id"),
            ({"id": "h-coll", "type": "feature_update", "collection": "hazards; DROP TABLE hazards",
              "feature_id": "x", "set": {"status": "open"}}, "collection"),
            ({"id": "h-set", "type": "feature_update", "collection": "hazards",
              "feature_id": self.fill["hazard"], "set": {"status": "open' OR '1'='1"}},
             "set.status"),
            ({"id": "h-qty", "type": "feature_update", "collection": "resources",
              "feature_id": "x", "set": {"items": {"sandbag": -1e308}}}, "set.items.sandbag"),
            ({"id": "h-area", "type": "alert", "event": "rainstorm", "severity": "red",
              "geometry": far}, "geometry"),
            ({"id": "h-sev", "type": "alert", "event": "rainstorm", "severity": "red' OR 1=1",
              "geometry": far}, "severity"),
        ]
        r = self.d.post(EV, {"events": [e for e, _ in events]},
                        headers={"Authorization": "Bearer " + self.tokens["met"]})
        self.assertEqual(r.status, 200, r.body[:300])
        doc = r.json()
        self.assertEqual((doc["accepted"], doc["rejected"]), (0, len(events)), doc)
        for res, (_, field) in zip(doc["results"], events):
            self.assertEqual((res["status"], res["field"]), ("rejected", field), res)
            self.assertTrue(res["reason"])
        self.assert_alive("hostile events")
        self.assertEqual(self.state(), self.before, "a rejected event changed something")

    def test_sql_looking_values_are_only_text(self):
        """A free-text filter that looks like SQL is compared as text: it
        matches nothing and changes nothing."""
        for q in ("township_code=1'%20OR%20'1'='1", "township_code=1;DELETE%20FROM%20hazards",
                  "township_code=%25"):
            r = self.d.get("/collections/hazards/items?" + q)
            self.assertEqual(r.status, 200, r.body[:300])
            self.assertEqual(r.json()["numberMatched"], 0, q)
            self.assert_alive(q)
        self.assertEqual(self.state(), self.before)

    def test_broken_connections_leave_situd_serving(self):
        """Bytes that are not HTTP, and requests cut short, get no answer
        worth checking; situd must just go on serving."""
        for name, data in [
                ("a TLS hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64),
                ("half a request line", b"GET /heal"),
                ("a body cut short", raw_req("POST", EV.encode(), [
                    "Authorization: Bearer " + self.tokens["met"],
                    "Content-Type: application/json", "Content-Length: 1000"], b'{"events": [')),
                ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")]:
            s = socket.create_connection(("127.0.0.1", self.d.port), timeout=2)
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                try:
                    while s.recv(65536):
                        pass
                except OSError:
                    pass
            finally:
                s.close()
            self.assert_alive(name)
        self.assertEqual(self.state(), self.before)

    def test_a_token_revoked_while_running_is_refused(self):
        path = "/feeds/telecom/events"
        auth = {"Authorization": "Bearer " + self.tokens["telecom"]}
        self.assertEqual(self.d.post(path, {"events": []}, headers=auth).status, 200)
        self.revoke("telecom")
        t0 = time.monotonic()
        refused = feedlib.wait_until(
            lambda: self.d.post(path, {"events": []}, headers=auth).status == 401, timeout=10)
        took = time.monotonic() - t0
        self.assertTrue(refused, "a revoked token was still taken after 10 s")
        # README: situd picks up a revocation within a second (2 s: slack)
        self.assertLess(took, REFRESH_S, "a revoked token was refused only after %.2f s" % took)
        situd.assert_problem(self, self.d.post(path, {"events": []}, headers=auth), 401,
                             "Authorization")
        self.assert_alive("a revocation")

    def test_a_token_added_while_running_is_taken(self):
        path = "/feeds/transport/events"
        token = feedlib.add_token(self.db, "transport")
        t0 = time.monotonic()
        taken = feedlib.wait_until(
            lambda: self.d.post(path, {"events": []}, headers={
                "Authorization": "Bearer " + token}).status == 200, timeout=10)
        took = time.monotonic() - t0
        self.assertTrue(taken, "a token added while situd runs was never taken")
        self.assertLess(took, REFRESH_S, "a new token was taken only after %.2f s" % took)


if __name__ == "__main__":
    unittest.main(verbosity=2)
