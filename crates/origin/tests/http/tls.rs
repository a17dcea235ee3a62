// SPDX-License-Identifier: MIT OR Apache-2.0
//! HTTPS with ALPN: HTTP/2 and HTTP/1.1 on one port. The certificate is made with the
//! `openssl` command; without it the test says so and passes vacuously.

use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

fn make_cert(fx: &Fixture) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let (cert, key) = (fx.dir.join("cert.pem"), fx.dir.join("key.pem"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        // An end-entity certificate (webpki refuses a CA certificate as a server's).
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .ok()?;
    status.status.success().then_some((cert, key))
}

fn connector(cert: &std::path::Path, alpn: &[u8]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert).expect("read cert") {
        roots.add(c.expect("parse cert")).expect("add root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn https_with_alpn_h2_and_http11() {
    let fx = Fixture::new();
    let Some((cert, key)) = make_cert(&fx) else {
        eprintln!("openssl not available: TLS test skipped");
        return;
    };
    let mut config = fx.config();
    config.tls_cert = Some(cert.clone());
    config.tls_key = Some(key);
    let server = TestServer::start(config).await;
    let name = ServerName::try_from("localhost").expect("server name");

    // HTTP/2 via ALPN.
    let tcp = TcpStream::connect(server.addr).await.expect("connect");
    let tls = connector(&cert, b"h2")
        .connect(name.clone(), tcp)
        .await
        .expect("TLS handshake (h2)");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(b"h2".as_slice()));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    let req = Request::get("https://localhost/seg10.ts")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let res = sender.send_request(req).await.expect("response");
    assert_eq!(
        (res.version(), res.status().as_u16()),
        (Version::HTTP_2, 200)
    );
    let body = res.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(body.as_ref(), pattern_bytes(1880).as_slice());

    // HTTP/1.1 via ALPN, raw request over the TLS stream.
    let tcp = TcpStream::connect(server.addr).await.expect("connect");
    let mut tls = connector(&cert, b"http/1.1")
        .connect(name, tcp)
        .await
        .expect("TLS handshake (http/1.1)");
    tls.write_all(b"GET /live.m3u8 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with(LIVE_M3U8), "{text}");

    // A cleartext client on the TLS port gets no HTTP answer.
    let mut plain = Conn::open(server.addr).await;
    plain.send("GET", "/seg10.ts", &[]).await;
    assert!(plain.read_head().await.is_none_or(|r| r.status != 200));
}

/// `wss://`: the WebSocket upgrade of `/api/events` over TLS (ALPN http/1.1).
#[tokio::test]
async fn wss_events_over_tls() {
    use futures_util::StreamExt;
    let fx = Fixture::new();
    let Some((cert, key)) = make_cert(&fx) else {
        eprintln!("openssl not available: TLS test skipped");
        return;
    };
    let mut config = fx.config();
    config.tls_cert = Some(cert.clone());
    config.tls_key = Some(key);
    let (server, events) = TestServer::start_with_events(config).await;
    let name = ServerName::try_from("localhost").expect("server name");
    let tcp = TcpStream::connect(server.addr).await.expect("connect");
    let tls = connector(&cert, b"http/1.1")
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    let (mut ws, res) = tokio_tungstenite::client_async("wss://localhost/api/events", tls)
        .await
        .expect("WebSocket handshake over TLS");
    assert_eq!(res.status(), 101);
    let payload = origin::events::Payload::StreamRemoved;
    let seq = events.publish("gone", "run", payload);
    let msg = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next()).await;
    let text = match msg {
        Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) => t.to_string(),
        other => panic!("no event over wss: {other:?}"),
    };
    let event: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(event["seq"].as_u64(), Some(seq));
    assert_eq!(event["type"], "stream.removed");
}
