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

/// One request and the expected status, headers (`None` = must be absent) and body.
pub struct Case {
    pub method: &'static str,
    pub path: &'static str,
    pub req: &'static [(&'static str, &'static str)],
    pub status: u16,
    pub headers: &'static [(&'static str, Option<&'static str>)],
    pub body: Body,
}

pub const fn case(
    method: &'static str,
    path: &'static str,
    req: &'static [(&'static str, &'static str)],
    status: u16,
    headers: &'static [(&'static str, Option<&'static str>)],
    body: Body,
) -> Case {
    Case {
        method,
        path,
        req,
        status,
        headers,
        body,
    }
}

pub const IMMUTABLE: Option<&str> = Some("public, max-age=31536000, immutable");
pub const ERR: Option<&str> = Some("public, max-age=1");

pub async fn run_cases(server: &TestServer, cases: &[Case]) {
    let mut failures = Vec::new();
    for c in cases {
        let res = request(server.addr, c.method, c.path, c.req).await;
        let mut problems = Vec::new();
        if res.status != c.status {
            problems.push(format!("status: want {} got {}", c.status, res.status));
        }
        for (name, want) in c.headers {
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
