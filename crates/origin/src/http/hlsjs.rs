// SPDX-License-Identifier: MIT OR Apache-2.0
//! hls.js, embedded: the page plays without access to a public CDN.
//!
//! `assets/hls.js/` holds `dist/hls.min.js` and `LICENSE` (Apache-2.0, © Dailymotion) of the
//! npm release pinned in `tests/e2e/package-lock.json` ([`HLSJS_VERSION`]), copied unchanged. They
//! are served under a path that names the version, so the script is cached as immutable: a
//! new release gets a new URL. `--hlsjs-url` points the page elsewhere.

use axum::response::Response;
use bytes::Bytes;

use super::files::typed;

#[cfg(doc)]
use crate::config::HLSJS_VERSION;

/// Where the script is served ([`crate::config::DEFAULT_HLSJS_URL`] is the same path).
pub(crate) const SCRIPT_PATH: &str = "/_hlsorigin/hls.js-1.7.4/hls.min.js";
/// Where its licence is served.
pub(crate) const LICENSE_PATH: &str = "/_hlsorigin/hls.js-1.7.4/LICENSE";

const SCRIPT: &[u8] = include_bytes!("../../assets/hls.js/hls.min.js");
const LICENSE: &[u8] = include_bytes!("../../assets/hls.js/LICENSE");
/// The URL changes with the version: cache for a year, never revalidate.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

fn asset(body: &'static [u8], content_type: &'static str) -> Response {
    typed(Bytes::from_static(body), content_type, IMMUTABLE)
}

/// `GET` [`SCRIPT_PATH`].
pub(crate) async fn script() -> Response {
    asset(SCRIPT, "application/javascript; charset=utf-8")
}

/// `GET` [`LICENSE_PATH`].
pub(crate) async fn license() -> Response {
    asset(LICENSE, "text/plain; charset=utf-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HLSJS_VERSION as VERSION;

    #[test]
    fn paths_and_default_url_name_the_embedded_version() {
        // hls.min.js declares its version as a string literal (`var vs="1.7.4"`).
        let text = std::str::from_utf8(SCRIPT).expect("UTF-8 script");
        assert!(
            text.contains(&format!("\"{VERSION}\"")),
            "script is {VERSION}"
        );
        let dir = format!("/_hlsorigin/hls.js-{VERSION}/");
        assert_eq!(SCRIPT_PATH, format!("{dir}hls.min.js"));
        assert_eq!(LICENSE_PATH, format!("{dir}LICENSE"));
        assert_eq!(crate::config::DEFAULT_HLSJS_URL, SCRIPT_PATH);
        assert!(std::str::from_utf8(LICENSE)
            .expect("UTF-8 licence")
            .contains("Apache License"));
    }

    #[test]
    fn embedded_version_is_the_one_the_browser_tests_pin() {
        let lock = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/e2e/package-lock.json"
        );
        let lock: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(lock).expect("package-lock.json"))
                .expect("package-lock.json is JSON");
        assert_eq!(lock["packages"]["node_modules/hls.js"]["version"], VERSION);
    }
}
