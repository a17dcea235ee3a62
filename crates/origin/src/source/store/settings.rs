// SPDX-License-Identifier: MIT OR Apache-2.0
//! Storage settings from the configuration file (`[storage]`: endpoint, region, credentials,
//! `allow_http`), beside the standard `AWS_*` environment. **The environment wins**: a
//! setting given both ways takes the environment's value, as the AWS SDKs and CLI do
//! (`AWS_*` over the shared config file), so a deployment can override a shared file per
//! process.

use std::sync::OnceLock;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::ClientConfigKey;

/// The `[storage]` table of the configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageSettings {
    /// An S3-compatible server (`http://127.0.0.1:8333`); AWS when unset.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    /// Allow an `http://` endpoint.
    pub allow_http: Option<bool>,
}

impl StorageSettings {
    /// The keys of the `[storage]` table.
    pub const KEYS: &'static [&'static str] = &[
        "endpoint",
        "region",
        "access_key_id",
        "secret_access_key",
        "session_token",
        "allow_http",
    ];

    fn pairs(&self) -> Vec<(AmazonS3ConfigKey, String)> {
        let allow_http = self.allow_http.map(|b| b.to_string());
        [
            (AmazonS3ConfigKey::Endpoint, &self.endpoint),
            (AmazonS3ConfigKey::Region, &self.region),
            (AmazonS3ConfigKey::AccessKeyId, &self.access_key_id),
            (AmazonS3ConfigKey::SecretAccessKey, &self.secret_access_key),
            (AmazonS3ConfigKey::Token, &self.session_token),
            (
                AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp),
                &allow_http,
            ),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v.clone()?)))
        .collect()
    }
}

static SETTINGS: OnceLock<StorageSettings> = OnceLock::new();

/// Sets the configuration file's storage settings for every S3 client this process makes
/// ([`super::s3_from_env`]); the first call wins.
pub fn set_storage_settings(settings: StorageSettings) {
    let _ = SETTINGS.set(settings);
}

/// The settings of the configuration file, then the `AWS_*` variables of `env` over them;
/// `us-east-1` when neither names a region.
pub(crate) fn builder(
    settings: Option<&StorageSettings>,
    env: impl IntoIterator<Item = (String, String)>,
) -> AmazonS3Builder {
    let mut builder = AmazonS3Builder::new();
    let mut region = false;
    for (key, value) in settings.map(StorageSettings::pairs).unwrap_or_default() {
        region |= key == AmazonS3ConfigKey::Region;
        builder = builder.with_config(key, value);
    }
    // As `AmazonS3Builder::from_env`, applied last so that the environment wins.
    for (key, value) in env {
        if !key.starts_with("AWS_") {
            continue;
        }
        if let Ok(config_key) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
            region |= matches!(
                config_key,
                AmazonS3ConfigKey::Region | AmazonS3ConfigKey::DefaultRegion
            );
            builder = builder.with_config(config_key, value);
        }
    }
    if !region {
        builder = builder.with_region("us-east-1");
    }
    builder
}

/// [`builder`] with this process's settings and environment.
pub(crate) fn from_settings_and_env() -> AmazonS3Builder {
    let env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    builder(SETTINGS.get(), env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> StorageSettings {
        StorageSettings {
            endpoint: Some("http://file:8333".into()),
            region: Some("eu-file-1".into()),
            access_key_id: Some("file-key".into()),
            secret_access_key: Some("file-secret".into()),
            session_token: None,
            allow_http: Some(true),
        }
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        type Want = [(AmazonS3ConfigKey, Option<&'static str>); 5];
        let keys = |e, r, a, s, h| -> Want {
            [
                (AmazonS3ConfigKey::Endpoint, e),
                (AmazonS3ConfigKey::Region, r),
                (AmazonS3ConfigKey::AccessKeyId, a),
                (AmazonS3ConfigKey::SecretAccessKey, s),
                (AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp), h),
            ]
        };
        type Case = (Option<StorageSettings>, Vec<(String, String)>, Want);
        let cases: [Case; 4] = [
            // The file alone.
            (
                Some(settings()),
                env(&[]),
                keys(
                    Some("http://file:8333"),
                    Some("eu-file-1"),
                    Some("file-key"),
                    Some("file-secret"),
                    Some("true"),
                ),
            ),
            // The environment alone; us-east-1 when no region is named.
            (
                None,
                env(&[
                    ("AWS_ENDPOINT_URL", "http://env:1"),
                    ("AWS_ACCESS_KEY_ID", "env-key"),
                ]),
                keys(
                    Some("http://env:1"),
                    Some("us-east-1"),
                    Some("env-key"),
                    None,
                    // object_store's default.
                    Some("false"),
                ),
            ),
            // Both: the environment's values win, the file fills in the rest.
            (
                Some(settings()),
                env(&[
                    ("AWS_ENDPOINT_URL", "http://env:1"),
                    ("AWS_REGION", "eu-env-1"),
                    ("AWS_ALLOW_HTTP", "false"),
                    ("HOME", "/root"),
                ]),
                keys(
                    Some("http://env:1"),
                    Some("eu-env-1"),
                    Some("file-key"),
                    Some("file-secret"),
                    Some("false"),
                ),
            ),
            // Nothing at all.
            (
                None,
                env(&[]),
                keys(None, Some("us-east-1"), None, None, Some("false")),
            ),
        ];
        for (i, (file, env, want)) in cases.into_iter().enumerate() {
            let b = builder(file.as_ref(), env);
            for (key, value) in want {
                assert_eq!(
                    b.get_config_value(&key).as_deref(),
                    value,
                    "case {i}: {key:?}"
                );
            }
        }
    }
}
