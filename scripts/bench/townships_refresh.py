#!/usr/bin/env python3
"""townships_refresh.py BASE [--keep FILE] [--limit N] [--whole]: what one
refresh of the wall's township shading moves (#20): every page of
/townships?limit=N (10000, as daemon/web/panels.js asks), gzip accepted as a
browser does, asked with each page's ETag (the wall now); the ETags come
from FILE (--keep) when it exists, else from a first pass without
If-None-Match, and the new ones are written back to FILE, so that a later
run measures the refresh after a change. --whole: then every page without
If-None-Match too (the wall before #20, every minute). Prints per page:
status, response head and body bytes, seconds; and the totals."""

import argparse
import http.client
import json
import os
import time
import urllib.parse


def get(base, path, etag=None):
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
    headers = {"Accept-Encoding": "gzip", "Accept": "application/json"}
    if etag:
        headers["If-None-Match"] = etag
    t0 = time.perf_counter()
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    body = r.read()
    secs = time.perf_counter() - t0
    head = len("HTTP/1.1 %d %s\r\n" % (r.status, r.reason)) + sum(
        len("%s: %s\r\n" % kv) for kv in r.getheaders()) + 2
    conn.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), head, body, secs


def next_path(status, body, headers):
    if status != 200:
        return None
    if headers.get("content-encoding") == "gzip":
        import zlib
        body = zlib.decompress(body, 16 + 15)
    doc = json.loads(body)
    link = [x for x in doc.get("links", []) if x["rel"] == "next"]
    if not link or not doc["townships"]:
        return None
    u = urllib.parse.urlsplit(link[0]["href"])
    return u.path + "?" + u.query


def refresh(base, first, etags, label):
    """One pass over the pages; returns {path: etag} as answered."""
    path, seen, tot_head, tot_body, tot_s = first, {}, 0, 0, 0.0
    pages = []
    while path:
        status, headers, head, body, secs = get(base, path, etags.get(path))
        print("%-12s %-40s %d head %5d B body %9d B %.3f s" % (label, path, status, head, len(body), secs))
        tot_head, tot_body, tot_s = tot_head + head, tot_body + len(body), tot_s + secs
        seen[path] = headers.get("etag", "")
        pages.append(path)
        nxt = next_path(status, body, headers)
        if status == 304:  # the page is as kept: its next page is the next kept one
            i = list(etags).index(path)
            nxt = list(etags)[i + 1] if i + 1 < len(etags) else None
        path = nxt
    print("%-12s total %d pages: head %d B + body %d B = %d B, %.3f s" % (
        label, len(pages), tot_head, tot_body, tot_head + tot_body, tot_s))
    return seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("--keep")
    ap.add_argument("--limit", type=int, default=10000)
    ap.add_argument("--whole", action="store_true", help="then every page without If-None-Match")
    a = ap.parse_args()
    first = "/townships?limit=%d" % a.limit
    kept = {}
    if a.keep and os.path.exists(a.keep):
        with open(a.keep) as f:
            kept = json.load(f)
    if not kept:  # the first refresh: every page whole, as before #20
        kept = refresh(a.base, first, {}, "whole")
    seen = refresh(a.base, first, kept, "revalidated")
    if a.whole:
        refresh(a.base, first, {}, "whole")
    if a.keep:
        with open(a.keep, "w") as f:
            json.dump(seen, f)


if __name__ == "__main__":
    main()
