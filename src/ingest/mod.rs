// SPDX-License-Identifier: MIT OR Apache-2.0
//! Live input: MPEG-TS bytes from UDP (unicast or multicast), a TCP listener (one encoder at
//! a time, reconnects welcome) or stdin, or an RTMP publisher's messages, turned into [`IngestEvent`]s for the live
//! [`driver`], which demuxes, packages and stores them.
//!
//! The network side (this module, `udp`, `tcp`, `stdin`) is tokio; the driver runs on a
//! thread of its own because everything it does — demuxing, muxing, writing files — is
//! synchronous work. Several inputs of one stream (renditions) each get an input task and a
//! driver task; they share a [`group`].

mod demux;
pub mod driver;
#[cfg(test)]
mod driver_run_tests;
#[cfg(test)]
mod driver_tests;
pub mod events;
pub mod group;
pub mod hub;
pub mod keys;
pub mod rtmp;
pub mod srt;
mod stdin;
mod tcp;
mod udp;

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::str::FromStr;

use anyhow::{Context, Result};
use bytes::Bytes;
use tokio::sync::mpsc;

/// Where the transport stream comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `udp://HOST:PORT`: datagrams sent to this address (a multicast group is joined).
    Udp(SocketAddr),
    /// `tcp://HOST:PORT`: listen here; the encoder connects (and reconnects).
    Tcp(SocketAddr),
    /// `rtmp://HOST[:PORT]/APP/NAME`: listen here (port 1935 by default) for a publisher of
    /// stream NAME in application APP.
    Rtmp {
        addr: SocketAddr,
        app: String,
        name: String,
    },
    /// `srt://HOST:PORT[?streamid=NAME]`: listen here for an SRT caller (with that
    /// streamid, or any when none is given) sending MPEG-TS.
    Srt {
        addr: SocketAddr,
        streamid: Option<String>,
    },
    /// `-`: standard input.
    Stdin,
}

impl FromStr for Input {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s == "-" {
            return Ok(Input::Stdin);
        }
        const SUPPORTED: &str = "udp://HOST:PORT, tcp://HOST:PORT, - (stdin), srt://HOST:PORT[?streamid=NAME] (MPEG-TS) or rtmp://HOST[:PORT]/APP/NAME";
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| format!("{s:?}: expected {SUPPORTED}"))?;
        if scheme == "rtmp" {
            return parse_rtmp(s, rest);
        }
        let srt = scheme == "srt";
        // The scheme first: `http://…` is not an address problem.
        let udp = match scheme {
            "udp" | "srt" => true,
            "tcp" => false,
            other => {
                return Err(format!(
                    "{s:?}: {other}:// is not supported; the inputs are {SUPPORTED}"
                ))
            }
        };
        // Options after '?' (ffmpeg style, e.g. ?pkt_size=1316) are accepted and ignored.
        let hostport = rest.split(['?', '/']).next().unwrap_or_default();
        let addr = hostport
            .to_socket_addrs()
            .map_err(|e| format!("{s:?}: {e}; expected {SUPPORTED}"))?
            .next()
            .ok_or_else(|| format!("{s:?}: {hostport:?} resolves to no address"))?;
        Ok(if srt {
            let streamid = rest
                .split_once('?')
                .and_then(|(_, q)| q.split('&').find_map(|kv| kv.strip_prefix("streamid=")))
                .map(str::to_owned);
            Input::Srt { addr, streamid }
        } else if udp {
            Input::Udp(addr)
        } else {
            Input::Tcp(addr)
        })
    }
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Udp(a) => write!(f, "udp://{a}"),
            Input::Tcp(a) => write!(f, "tcp://{a}"),
            Input::Rtmp { addr, app, name } => write!(f, "rtmp://{addr}/{app}/{name}"),
            Input::Srt { addr, streamid } => match streamid {
                Some(id) => write!(f, "srt://{addr}?streamid={id}"),
                None => write!(f, "srt://{addr}"),
            },
            Input::Stdin => f.write_str("stdin"),
        }
    }
}

/// `rtmp://HOST[:PORT]/APP/NAME` (the part after `rtmp://` is `rest`).
fn parse_rtmp(s: &str, rest: &str) -> std::result::Result<Input, String> {
    const FORM: &str = "expected rtmp://HOST[:PORT]/APP/NAME";
    let mut parts = rest.splitn(3, '/');
    let hostport = parts.next().unwrap_or_default();
    let (app, name) = match (parts.next(), parts.next()) {
        (Some(app), Some(name))
            if !app.is_empty() && !name.is_empty() && !name.contains(['/', '?']) =>
        {
            (app, name)
        }
        _ => return Err(format!("{s:?}: {FORM}")),
    };
    // RTMP spec: port 1935 when the URL names none.
    let with_port = if hostport
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.contains(']'))
    {
        hostport.to_owned()
    } else {
        format!("{hostport}:1935")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("{s:?}: {e}; {FORM}"))?
        .next()
        .ok_or_else(|| format!("{s:?}: {hostport:?} resolves to no address"))?;
    Ok(Input::Rtmp {
        addr,
        app: app.to_owned(),
        name: name.to_owned(),
    })
}

/// What the input side tells the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestEvent {
    /// A new encoder session starts (TCP connection, new UDP sender): its bytes are a new
    /// transport stream.
    Session { peer: String },
    /// Bytes of the current session.
    Data(Bytes),
    /// Audio, video and data messages of the current RTMP session, in order: all those one
    /// read of the connection decoded, handed over at once (one driver wake-up, not one each).
    Messages(Vec<RtmpMessage>),
    /// The current session's connection closed.
    Closed,
    /// The input ended for good (stdin at end of file).
    End,
}

/// One audio (8), video (9) or data (18) message of an RTMP session: its 32-bit millisecond
/// timestamp and its payload (an FLV tag body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpMessage {
    pub tag_type: u8,
    pub timestamp: u32,
    pub body: Bytes,
}

/// An input whose socket is bound (so its address can be printed before reading).
#[derive(Debug)]
pub enum Bound {
    Udp(udp::UdpInput),
    Tcp(tokio::net::TcpListener),
    Rtmp {
        listener: tokio::net::TcpListener,
        app: String,
        name: String,
    },
    Srt {
        socket: tokio::net::UdpSocket,
        streamid: Option<String>,
    },
    Stdin,
}

/// Binds the input's socket.
pub async fn bind(input: &Input) -> Result<Bound> {
    Ok(match input {
        Input::Udp(addr) => {
            Bound::Udp(udp::bind(*addr).with_context(|| format!("cannot receive on {input}"))?)
        }
        Input::Tcp(addr) => Bound::Tcp(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {input}"))?,
        ),
        Input::Rtmp { addr, app, name } => Bound::Rtmp {
            listener: tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {input}"))?,
            app: app.clone(),
            name: name.clone(),
        },
        Input::Srt { addr, streamid } => Bound::Srt {
            socket: srt::bind(*addr)?,
            streamid: streamid.clone(),
        },
        Input::Stdin => Bound::Stdin,
    })
}

impl Bound {
    /// The input as bound (`udp://127.0.0.1:40123` for port 0).
    pub fn describe(&self) -> String {
        match self {
            Bound::Udp(u) => u
                .local_addr()
                .map_or_else(|_| "udp://?".into(), |a| format!("udp://{a}")),
            Bound::Tcp(l) => l
                .local_addr()
                .map_or_else(|_| "tcp://?".into(), |a| format!("tcp://{a}")),
            Bound::Rtmp {
                listener,
                app,
                name,
            } => listener.local_addr().map_or_else(
                |_| "rtmp://?".into(),
                |a| format!("rtmp://{a}/{app}/{name}"),
            ),
            Bound::Srt { socket, streamid } => {
                let addr = socket
                    .local_addr()
                    .map_or_else(|_| "?".into(), |a| a.to_string());
                match streamid {
                    Some(id) => format!("srt://{addr}?streamid={id}"),
                    None => format!("srt://{addr}"),
                }
            }
            Bound::Stdin => "stdin".into(),
        }
    }

    /// Reads until the input ends (stdin) or the driver is gone; network inputs run until
    /// cancelled. An RTMP input takes publishers under `policy` (its application is the
    /// URL's) and counts them in `metrics`.
    pub async fn run(
        self,
        tx: mpsc::Sender<IngestEvent>,
        policy: hub::Policy,
        metrics: Option<origin::IngestMetrics>,
    ) -> Result<()> {
        match self {
            Bound::Udp(u) => u.run(tx).await,
            Bound::Tcp(l) => tcp::run(l, tx).await,
            Bound::Rtmp {
                listener,
                app,
                name,
            } => {
                let policy = hub::Policy {
                    app: Some(app),
                    linger: None,
                    ..policy
                };
                rtmp::run(listener, hub::Hub::single(policy, &name, tx, metrics)).await
            }
            Bound::Srt { socket, streamid } => {
                let policy = hub::Policy {
                    linger: None,
                    ..policy
                };
                let opts = srt::SrtOptions {
                    any_streamid: streamid.is_none(),
                    ..policy.srt.clone()
                };
                // Without a streamid in the URL, any caller's stream is this one.
                let name = streamid.unwrap_or_else(|| "stream".into());
                srt::run(socket, hub::Hub::single(policy, &name, tx, metrics), opts).await
            }
            Bound::Stdin => stdin::run(tx).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs() {
        let ok = |s: &str| s.parse::<Input>().expect(s);
        assert_eq!(ok("-"), Input::Stdin);
        assert_eq!(
            ok("udp://127.0.0.1:9000"),
            Input::Udp("127.0.0.1:9000".parse().expect("addr"))
        );
        assert_eq!(
            ok("udp://127.0.0.1:9000?pkt_size=1316"),
            Input::Udp("127.0.0.1:9000".parse().expect("addr"))
        );
        assert_eq!(
            ok("tcp://127.0.0.1:0"),
            Input::Tcp("127.0.0.1:0".parse().expect("addr"))
        );
        // Bad input → what the message must say.
        for (bad, want) in [
            ("", "expected udp://HOST:PORT, tcp://HOST:PORT, - (stdin)"),
            ("udp:9000", "expected udp://"),
            (
                "http://127.0.0.1:80",
                "http:// is not supported; the inputs are udp://",
            ),
            ("http://no-such-host.invalid:80", "http:// is not supported"),
            ("ftp://x", "ftp:// is not supported"),
            ("udp://127.0.0.1", "expected udp://"),
            ("tcp://:x", "expected udp://"),
        ] {
            let e = bad.parse::<Input>().unwrap_err();
            assert!(e.contains(want), "{bad:?}: {e}");
        }
        assert_eq!(ok("tcp://127.0.0.1:5").to_string(), "tcp://127.0.0.1:5");
        for (url, addr, app, name) in [
            (
                "rtmp://127.0.0.1:1936/live/cam",
                "127.0.0.1:1936",
                "live",
                "cam",
            ),
            ("rtmp://127.0.0.1/live/cam", "127.0.0.1:1935", "live", "cam"),
            ("rtmp://[::1]/app/x", "[::1]:1935", "app", "x"),
            ("rtmp://[::1]:0/app/x", "[::1]:0", "app", "x"),
        ] {
            assert_eq!(
                ok(url),
                Input::Rtmp {
                    addr: addr.parse().expect("addr"),
                    app: app.into(),
                    name: name.into()
                },
                "{url}"
            );
        }
        assert_eq!(
            ok("rtmp://127.0.0.1:5/live/a").to_string(),
            "rtmp://127.0.0.1:5/live/a"
        );
        for bad in [
            "rtmp://127.0.0.1:1935/live",
            "rtmp://127.0.0.1:1935/live/",
            "rtmp://127.0.0.1:1935//x",
            "rtmp://127.0.0.1:1935/live/a/b",
            "rtmp://:x/live/a",
        ] {
            let e = bad.parse::<Input>().unwrap_err();
            assert!(e.contains("rtmp://HOST[:PORT]/APP/NAME"), "{bad:?}: {e}");
        }
    }
}
