// SPDX-License-Identifier: MIT OR Apache-2.0
//! Table-driven cases: one request, the expected status, headers and body.

use crate::common::*;

/// What a case expects of the body.
#[derive(Debug, Clone, Copy)]
pub enum Body {
    Any,
    Empty,
    Exact(&'static [u8]),
    /// `pattern` bytes `offset..offset + len`.
    Pattern(usize, usize),
}

/// Request header fields.
pub type Fields<'a> = &'a [(&'static str, &'static str)];
/// Expected response header fields (`None` = must be absent).
pub type Expect<'a> = &'a [(&'static str, Option<&'static str>)];

/// One request and the expected status, headers and body.
pub struct Case {
    pub method: &'static str,
    pub path: &'static str,
    pub req: Vec<(&'static str, &'static str)>,
    pub status: u16,
    pub headers: Vec<(&'static str, Option<&'static str>)>,
    pub body: Body,
}

pub fn case(
    method: &'static str,
    path: &'static str,
    req: Fields,
    status: u16,
    headers: Expect,
    body: Body,
) -> Case {
    Case {
        method,
        path,
        req: req.to_vec(),
        status,
        headers: headers.to_vec(),
        body,
    }
}

/// A `GET` with no request headers.
pub fn get(path: &'static str, status: u16, headers: Expect, body: Body) -> Case {
    case("GET", path, &[], status, headers, body)
}

pub const IMMUTABLE: Option<&str> = Some("public, max-age=31536000, immutable");
pub const ERR: Option<&str> = Some("public, max-age=1");
/// `Cache-Control` of other files (`cache_other`).
pub const OTHER: Option<&str> = Some("public, max-age=60");

pub async fn run_cases(server: &TestServer, cases: &[Case]) {
    let mut failures = Vec::new();
    for c in cases {
        let res = request(server.addr, c.method, c.path, &c.req).await;
        let mut problems = Vec::new();
        if res.status != c.status {
            problems.push(format!("status: want {} got {}", c.status, res.status));
        }
        for (name, want) in &c.headers {
            let got = res.header(name);
            if got.as_deref() != *want {
                problems.push(format!("{name}: want {want:?} got {got:?}"));
            }
        }
        let body_ok = match c.body {
            Body::Any => true,
            Body::Empty => res.body.is_empty(),
            Body::Exact(b) => res.body == b,
            Body::Pattern(off, len) => {
                res.body == (off..off + len).map(pattern).collect::<Vec<_>>()
            }
        };
        if !body_ok {
            problems.push(format!(
                "body: want {:?}, got {} bytes {:?}",
                c.body,
                res.body.len(),
                res.text().get(..80)
            ));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{} {} {:?}:\n    {}",
                c.method,
                c.path,
                c.req,
                problems.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
