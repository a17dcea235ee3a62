// SPDX-License-Identifier: MIT OR Apache-2.0
//! The `[storage]` table of the configuration file: the object-storage settings of every
//! command (`package -o s3://…`, `serve s3://…`, `live --root s3://…`, the default run's
//! `--playlists s3://…`). The `AWS_*` environment wins over it
//! (`origin::source::store::StorageSettings`).
//!
//! ```toml
//! [storage]
//! endpoint = "http://127.0.0.1:8333"   # an S3-compatible server; AWS when unset
//! region = "us-east-1"
//! access_key_id = "…"
//! secret_access_key = "…"
//! allow_http = true                    # an http:// endpoint
//! ```

use std::path::Path;

use anyhow::{bail, Result};
use origin::source::store::StorageSettings;

/// The name of the table.
pub const TABLE: &str = "storage";

/// The settings of the `[storage]` table of `table` (the file at `path`), if it has one.
pub fn parse(table: &toml::Table, path: &Path) -> Result<Option<StorageSettings>> {
    let file = path.display();
    let Some(value) = table.get(TABLE) else {
        return Ok(None);
    };
    let Some(t) = value.as_table() else {
        bail!("config file {file}: `{TABLE}` must be a table ([{TABLE}])");
    };
    let mut s = StorageSettings::default();
    for (key, value) in t {
        let text = || -> Result<Option<String>> {
            match value.as_str() {
                Some(v) => Ok(Some(v.to_owned())),
                None => bail!("config file {file}: [{TABLE}] {key} must be a string"),
            }
        };
        match key.as_str() {
            "endpoint" => s.endpoint = text()?,
            "region" => s.region = text()?,
            "access_key_id" => s.access_key_id = text()?,
            "secret_access_key" => s.secret_access_key = text()?,
            "session_token" => s.session_token = text()?,
            "allow_http" => match value.as_bool() {
                Some(b) => s.allow_http = Some(b),
                None => bail!("config file {file}: [{TABLE}] allow_http must be true or false"),
            },
            _ => bail!(
                "config file {file}: unknown key {key:?} in [{TABLE}] (keys are {})",
                StorageSettings::KEYS.join(", ")
            ),
        }
    }
    Ok(Some(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<Option<StorageSettings>> {
        parse(&text.parse().expect("toml"), Path::new("h.toml"))
    }

    #[test]
    fn storage_tables() {
        let full = StorageSettings {
            endpoint: Some("http://127.0.0.1:8333".into()),
            region: Some("eu-west-1".into()),
            access_key_id: Some("k".into()),
            secret_access_key: Some("s".into()),
            session_token: Some("t".into()),
            allow_http: Some(true),
        };
        let ok = [
            ("listen = \"0.0.0.0:80\"\n", None),
            ("[storage]\n", Some(StorageSettings::default())),
            (
                "[storage]\nendpoint = \"http://127.0.0.1:8333\"\nregion = \"eu-west-1\"\n\
                 access_key_id = \"k\"\nsecret_access_key = \"s\"\nsession_token = \"t\"\n\
                 allow_http = true\n",
                Some(full),
            ),
        ];
        for (text, want) in ok {
            assert_eq!(parsed(text).expect(text), want, "{text}");
        }
        let bad = [
            (
                "storage = 1\n",
                "config file h.toml: `storage` must be a table ([storage])",
            ),
            (
                "[storage]\nallow_http = \"yes\"\n",
                "config file h.toml: [storage] allow_http must be true or false",
            ),
            (
                "[storage]\nregion = 3\n",
                "config file h.toml: [storage] region must be a string",
            ),
            (
                "[storage]\nendpoint_url = \"x\"\n",
                "config file h.toml: unknown key \"endpoint_url\" in [storage] (keys are \
                 endpoint, region, access_key_id, secret_access_key, session_token, allow_http)",
            ),
        ];
        for (text, want) in bad {
            let err = parsed(text).expect_err(text);
            assert_eq!(err.to_string(), want, "{text}");
        }
    }
}
