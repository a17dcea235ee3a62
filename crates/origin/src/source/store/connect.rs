// SPDX-License-Identifier: MIT OR Apache-2.0
//! Storage URLs (`s3://BUCKET/PREFIX`) and the S3 client behind them, configured from the
//! standard AWS environment.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3ConfigKey;
use object_store::path::Path;
use object_store::{ClientConfigKey, ObjectStore, RetryConfig};

/// `s3://BUCKET[/PREFIX]`: where a tree of streams lives in object storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageUrl {
    pub bucket: String,
    /// Key prefix without leading or trailing `/` (empty: the bucket's root).
    pub prefix: String,
}

impl StorageUrl {
    /// `None` when `s` is not a storage URL (a directory name), else the parsed URL or why
    /// it is malformed.
    pub fn parse(s: &str) -> Option<Result<Self, String>> {
        let rest = s.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_matches('/');
        let bad_bucket = bucket.is_empty()
            || !bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if bad_bucket {
            return Some(Err(format!(
                "{s}: the bucket name must be lower-case letters, digits, '-' or '.'"
            )));
        }
        let bad_segment = prefix.split('/').any(|p| {
            (p.is_empty() && !prefix.is_empty()) || p == "." || p == ".." || p.starts_with('.')
        });
        if bad_segment || prefix.contains(['\\', '\0']) {
            return Some(Err(format!(
                "{s}: the prefix must be plain names separated by single '/' (no '.', '..' or dot-names)"
            )));
        }
        Some(Ok(StorageUrl {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        }))
    }

    /// The prefix as an object-store path.
    pub fn path(&self) -> Path {
        Path::from(self.prefix.as_str())
    }

    /// `self` with `name` (a `/`-separated relative name) appended to the prefix.
    pub fn join(&self, name: &str) -> StorageUrl {
        let prefix = match (self.prefix.is_empty(), name.trim_matches('/')) {
            (_, "") => self.prefix.clone(),
            (true, n) => n.to_owned(),
            (false, n) => format!("{}/{n}", self.prefix),
        };
        StorageUrl {
            bucket: self.bucket.clone(),
            prefix,
        }
    }
}

impl fmt::Display for StorageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// How an S3 client should behave on errors.
#[derive(Debug, Clone, Copy)]
pub enum Role {
    /// Serving requests: fail fast (a player waits on the answer; a 503 is retried by it
    /// and by the CDN), one retry, 5 s per request.
    Serve,
    /// Writing a package: retry with backoff for up to a minute before giving up.
    Write,
}

/// An S3 client for `url.bucket` from the AWS environment: `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` (default `us-east-1`),
/// `AWS_ENDPOINT_URL` (an S3-compatible server such as SeaweedFS or MinIO; path-style
/// requests), `AWS_ALLOW_HTTP=true` for an `http://` endpoint, and the other `AWS_*`
/// settings `object_store` knows; over the configuration file's `[storage]` table
/// ([`super::StorageSettings`]: the environment wins).
pub fn s3_from_env(url: &StorageUrl, role: Role) -> io::Result<Arc<dyn ObjectStore>> {
    // The configuration file's `[storage]` settings, the environment over them.
    let builder = super::settings::from_settings_and_env().with_bucket_name(&url.bucket);
    let (retry, timeout) = match role {
        Role::Serve => (
            RetryConfig {
                max_retries: 1,
                retry_timeout: Duration::from_secs(5),
                ..Default::default()
            },
            "5s",
        ),
        Role::Write => (
            RetryConfig {
                max_retries: 8,
                retry_timeout: Duration::from_secs(60),
                ..Default::default()
            },
            "60s",
        ),
    };
    let store = builder
        .with_retry(retry)
        .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), timeout)
        .with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
            "2s",
        )
        .build()
        .map_err(|e| io::Error::other(format!("{url}: {e}")))?;
    Ok(Arc::new(store))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_urls() {
        let ok = |s: &str, bucket: &str, prefix: &str| {
            let got = StorageUrl::parse(s).unwrap().unwrap();
            assert_eq!(
                (got.bucket.as_str(), got.prefix.as_str()),
                (bucket, prefix),
                "{s}"
            );
        };
        ok("s3://b", "b", "");
        ok("s3://b/", "b", "");
        ok("s3://media-1/vod/clip/", "media-1", "vod/clip");
        assert!(StorageUrl::parse("out/dir").is_none());
        assert!(StorageUrl::parse("/abs/s3://x").is_none());
        for bad in [
            "s3://",
            "s3:///p",
            "s3://B/p",
            "s3://b/a//c",
            "s3://b/../x",
            "s3://b/.h/x",
        ] {
            assert!(StorageUrl::parse(bad).unwrap().is_err(), "{bad}");
        }
        let u = StorageUrl::parse("s3://b/vod").unwrap().unwrap();
        assert_eq!(u.join("clip").to_string(), "s3://b/vod/clip");
        assert_eq!(u.join("").to_string(), "s3://b/vod");
        let root = StorageUrl::parse("s3://b").unwrap().unwrap();
        assert_eq!(root.join("clip").to_string(), "s3://b/clip");
    }
}
