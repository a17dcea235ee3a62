// SPDX-License-Identifier: MIT OR Apache-2.0
//! One webhook POST: the HTTP client (hyper-util's, `https://` through rustls with Mozilla's
//! roots when the `tls` feature is on), the headers and the HMAC-SHA256 signature.

use std::sync::Arc;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, USER_AGENT};
use hyper::{Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use sha2::Sha256;

use crate::events::Event;

/// `X-Hlsorigin-Event`: the event's type.
pub(crate) const HEADER_EVENT: &str = "x-hlsorigin-event";
/// `X-Hlsorigin-Signature`: `sha256=HEX`, HMAC-SHA256 of the body keyed with the secret.
pub(crate) const HEADER_SIGNATURE: &str = "x-hlsorigin-signature";
/// `X-Hlsorigin-Delivery`: the same id on every attempt of one event to one webhook, so a
/// receiver can drop a repeat (an attempt that timed out here may have arrived there).
pub(crate) const HEADER_DELIVERY: &str = "x-hlsorigin-delivery";

#[cfg(feature = "tls")]
type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
#[cfg(not(feature = "tls"))]
type Connector = HttpConnector;

/// The shared HTTP client of the webhooks (pooled connections, HTTP/1.1).
#[derive(Clone, Debug)]
pub(crate) struct Client {
    http: HyperClient<Connector, Full<Bytes>>,
    user_agent: Arc<str>,
}

/// Whether a URL scheme can be delivered to by this build.
pub(crate) fn scheme_supported(scheme: &str) -> bool {
    scheme == "http" || (cfg!(feature = "tls") && scheme == "https")
}

impl Client {
    pub(crate) fn new() -> Result<Self, String> {
        Ok(Client {
            http: HyperClient::builder(TokioExecutor::new()).build(connector()?),
            user_agent: format!("hlsorigin/{}", env!("CARGO_PKG_VERSION")).into(),
        })
    }

    /// POSTs `event` to `url`; the answer's status, or why there was none.
    pub(crate) async fn post(
        &self,
        url: &Uri,
        event: &Event,
        delivery: &str,
        signature: Option<&str>,
    ) -> Result<StatusCode, String> {
        let mut req = Request::post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, &*self.user_agent)
            .header(HEADER_EVENT, event.event_type.as_str())
            .header(HEADER_DELIVERY, delivery);
        if let Some(sig) = signature {
            req = req.header(HEADER_SIGNATURE, sig);
        }
        let req = req
            .body(Full::new(Bytes::from(event.json().to_owned())))
            .map_err(|e| e.to_string())?;
        let res = self.http.request(req).await.map_err(|e| error_chain(&e))?;
        // The answer's body is not read: dropping it closes or returns the connection.
        Ok(res.status())
    }
}

#[cfg(feature = "tls")]
fn connector() -> Result<Connector, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(provider)
        .map_err(|e| format!("no TLS client for https webhooks: {e}"))?;
    Ok(builder.https_or_http().enable_http1().build())
}

#[cfg(not(feature = "tls"))]
fn connector() -> Result<Connector, String> {
    Ok(HttpConnector::new())
}

/// `sha256=HEX`: HMAC-SHA256 (RFC 2104, FIPS 180-4) of `body` keyed with `secret`.
pub(crate) fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length (RFC 2104 2: longer keys are hashed first).
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 2 * digest.len());
    out.push_str("sha256=");
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// An error and its sources on one line (hyper's client error alone says "client error
/// (Connect)").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test cases 1 and 2 (HMAC-SHA-256).
    #[test]
    fn signature_matches_rfc4231() {
        let cases: [(&[u8], &[u8], &str); 2] = [
            (
                &[0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
        ];
        for (key, data, hex) in cases {
            assert_eq!(signature(key, data), format!("sha256={hex}"));
        }
    }
}
