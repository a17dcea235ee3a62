vcl 4.1;
# hlsorigin behind Varnish (the configuration tests/suite/cdn.rs runs).

import std;

backend hlsorigin {
    .host = "{{ORIGIN_HOST}}";
    .port = "{{ORIGIN_PORT}}";
    .connect_timeout = 2s;
    # LL-HLS blocking playlist reloads are held by the origin for up to 3 target durations.
    .first_byte_timeout = 60s;
    .between_bytes_timeout = 10s;
}

sub vcl_recv {
    # The cache key is Host + the whole URL *including the query string* (builtin vcl_hash):
    # LL-HLS `_HLS_msn` / `_HLS_part` / `_HLS_skip` requests are distinct objects. Never strip
    # the query; sorting it only merges requests that differ in parameter order.
    set req.url = std.querysort(req.url);
    # Everything the origin serves is public; a player page's cookies must not turn every
    # request into a pass.
    unset req.http.Cookie;
    # Range requests need nothing here: Varnish fetches the whole object once and answers
    # ranges (206 + Content-Range) from the cache.
}

sub vcl_backend_response {
    # Lifetimes come from the origin's Cache-Control (max-age / s-maxage) and nothing else.
    # Varnish would add 10 s of grace (serve stale while refetching in the background), which
    # lets a live playlist lag behind the max-age of ½ target duration that the origin chose
    # (RFC 8216 6.3.4). Serve stale only when the origin allows it.
    if (beresp.http.Cache-Control !~ "stale-while-revalidate") {
        set beresp.grace = 0s;
    }
}

sub vcl_deliver {
    # Varnish sends `Age` itself (Apple's LL-HLS notes require it from proxy caches).
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
