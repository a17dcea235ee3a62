vcl 4.1;
# Several stateless `hlsorigin serve s3://…` origins behind Varnish, round robin (the
# configuration tests/suite/storage.rs runs). Everything else as in varnish.vcl.

import std;
import directors;

backend origin1 {
    .host = "{{ORIGIN1_HOST}}";
    .port = "{{ORIGIN1_PORT}}";
    .connect_timeout = 2s;
    .first_byte_timeout = 60s;
    .between_bytes_timeout = 10s;
}

backend origin2 {
    .host = "{{ORIGIN2_HOST}}";
    .port = "{{ORIGIN2_PORT}}";
    .connect_timeout = 2s;
    .first_byte_timeout = 60s;
    .between_bytes_timeout = 10s;
}

sub vcl_init {
    new origins = directors.round_robin();
    origins.add_backend(origin1);
    origins.add_backend(origin2);
}

sub vcl_recv {
    set req.backend_hint = origins.backend();
    set req.url = std.querysort(req.url);
    unset req.http.Cookie;
}

# An origin that is down (killed, restarting): the next one in the round answers instead.
sub vcl_backend_error {
    if (bereq.retries < 2) {
        return (retry);
    }
}

sub vcl_backend_response {
    if (beresp.http.Cache-Control !~ "stale-while-revalidate") {
        set beresp.grace = 0s;
    }
}
