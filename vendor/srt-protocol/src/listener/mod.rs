mod input;
mod session;
mod statistics;

use std::{collections::HashMap, fmt::Debug, net::SocketAddr, time::Duration, time::Instant};

use crate::{packet::*, protocol::time::Timer, settings::ConnInitSettings};

use session::*;

pub use input::*;
pub use statistics::*;

#[derive(Clone, Debug)]
pub struct ListenerSettings {}

/// hlsorigin patch: a caller whose handshake is pending (anything but open, rejected or
/// dropped) and that sent nothing for this long is forgotten. Before, every datagram from a
/// new source address made a pending session that was never removed: a flood of callers
/// that never complete their handshake grew the listener's memory without bound. libsrt
/// callers resend their handshake every 250 ms and give up after 3 s (SRTO_CONNTIMEO).
pub const PENDING_IDLE: Duration = Duration::from_secs(5);
/// hlsorigin patch: the same for a caller whose access request the application has (it
/// answers, or drops the request, well before: hlsorigin within 10 s). Such a session is
/// rejected (so that srt-tokio forgets its request too), not just forgotten.
pub const REQUESTED_IDLE: Duration = Duration::from_secs(20);
/// hlsorigin patch: at most this many pending sessions at once; a datagram from a new
/// address beyond that is dropped (counted in `cx_dropped`).
pub const MAX_PENDING: usize = 4096;
/// hlsorigin patch: how often each open session is probed (see [`probe_packet`]). Before, an
/// open session stayed in the listener's map (and srt-tokio's) after its connection ended
/// unless a datagram came from its address later: one entry per connection ever made.
pub const PROBE: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct MultiplexListener {
    start_time: Instant,
    local_address: SocketAddr,
    settings: ConnInitSettings,
    sessions: HashMap<SessionId, SessionState>,
    /// hlsorigin patch: the pending sessions and when each last had a packet.
    pending: HashMap<SessionId, Instant>,
    stats: ListenerStatistics,
    stats_timer: Timer,
    /// hlsorigin patch: when to probe the open sessions next, and the ones left to probe.
    probe_timer: Timer,
    probing: Vec<SessionId>,
}

impl MultiplexListener {
    pub fn new(now: Instant, local_address: SocketAddr, settings: ConnInitSettings) -> Self {
        Self {
            start_time: now,
            local_address,
            settings,
            sessions: Default::default(),
            pending: Default::default(),
            stats: Default::default(),
            stats_timer: Timer::new(now, Duration::from_secs(1)),
            probe_timer: Timer::new(now, PROBE),
            probing: Vec::new(),
        }
    }

    pub fn handle_input(&mut self, now: Instant, input: Input) -> Action {
        match input {
            Input::Packet(packet) => self.handle_input_packet(now, packet),
            Input::AccessResponse(response) => self.handle_input_access_response(now, response),
            Input::Timer => self.handle_timer(now),
            Input::Success(result_of) => self.handle_success(now, result_of),
            Input::Failure(result_of) => self.handle_failure(now, result_of),
        }
    }

    fn handle_input_packet(&mut self, now: Instant, packet: ReceivePacketResult) -> Action {
        match packet {
            Ok(packet) => self.handle_packet(now, packet),
            Err(error) => self.handle_packet_receive_error(now, error),
        }
    }

    fn handle_input_access_response(
        &mut self,
        now: Instant,
        response: Option<(SessionId, AccessControlResponse)>,
    ) -> Action {
        match response {
            Some((session_id, response)) => {
                self.handle_access_control_response(now, session_id, response)
            }
            None => self.handle_close(),
        }
    }

    fn handle_packet(&mut self, now: Instant, packet: (Packet, SocketAddr)) -> Action {
        self.stats.rx_packets += 1;
        //self.stats.rx_bytes += packet
        let session_id = SessionId(packet.1);
        // hlsorigin patch: bounded pending sessions (see MAX_PENDING).
        if !self.sessions.contains_key(&session_id) && self.pending.len() >= MAX_PENDING {
            self.forget_idle(now);
            if self.pending.len() >= MAX_PENDING {
                self.stats.cx_dropped += 1;
                return Action::WaitForInput;
            }
        }
        let settings = &self.settings;
        let action = self
            .sessions
            .entry(session_id)
            .or_insert_with(|| SessionState::new_pending(settings.clone()))
            .handle_packet(now, session_id, packet);
        if still_pending(&action) {
            self.pending.insert(session_id, now);
        } else {
            self.pending.remove(&session_id);
        }
        action
    }

    /// hlsorigin patch: how many callers' handshakes are pending.
    pub fn pending_sessions(&self) -> usize {
        self.pending.len()
    }

    /// hlsorigin patch: how many sessions (pending, open, rejected or dropped) are known.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// hlsorigin patch: the next open session's probe, if a probe round is under way. The
    /// I/O layer delegates it as any packet; when the session's connection has ended (its
    /// task is gone: shutdown, peer error, idle timeout, the application dropping it), the
    /// delegation fails, and [`Self::handle_failure`] drops the session: srt-tokio removes
    /// its entry, then the `Success(DropConnection)` removes ours.
    fn next_probe(&mut self) -> Option<Action<'static>> {
        while let Some(id) = self.probing.pop() {
            if matches!(self.sessions.get(&id), Some(SessionState::Open)) {
                return Some(Action::DelegatePacket(id, probe_packet()));
            }
        }
        None
    }

    /// hlsorigin patch: starts a probe round over the open sessions when [`PROBE`] is due.
    fn start_probe(&mut self, now: Instant) -> Option<Action<'static>> {
        self.probe_timer.check_expired(now)?;
        self.probing = (self.sessions.iter())
            .filter(|(_, s)| matches!(s, SessionState::Open))
            .map(|(id, _)| *id)
            .collect();
        self.next_probe()
    }

    /// hlsorigin patch: forgets the pending sessions idle for PENDING_IDLE whose access
    /// request is not out; the id of one idle for REQUESTED_IDLE whose request is out.
    fn forget_idle(&mut self, now: Instant) -> Option<SessionId> {
        let sessions = &mut self.sessions;
        let mut requested = None;
        self.pending.retain(|id, last| {
            let idle = now.saturating_duration_since(*last);
            match sessions.get(id) {
                Some(s) if s.access_requested() => {
                    if idle >= REQUESTED_IDLE && requested.is_none() {
                        requested = Some(*id);
                    }
                    true
                }
                Some(s) if s.is_pending() && idle >= PENDING_IDLE => {
                    sessions.remove(id);
                    false
                }
                Some(s) => s.is_pending(),
                None => false,
            }
        });
        requested
    }

    /// hlsorigin patch: [`Self::forget_idle`], then the rejection of a caller whose access
    /// request has been out for REQUESTED_IDLE, if any (as a dropped request).
    fn expire(&mut self, now: Instant) -> Option<Action> {
        let id = self.forget_idle(now)?;
        self.pending.remove(&id);
        let session = self.sessions.get_mut(&id)?;
        Some(session.handle_access_control_response(now, id, AccessControlResponse::Dropped))
    }

    fn handle_packet_receive_error(&mut self, now: Instant, error: ReceivePacketError) -> Action {
        self.warn(now, "packet", &error);

        use ReceivePacketError::*;
        match error {
            Parse(_) => self.stats.rx_parse_errors += 1,
            Io(_) => self.stats.rx_io_errors += 1,
        }

        Action::WaitForInput
    }

    fn handle_access_control_response(
        &mut self,
        now: Instant,
        session_id: SessionId,
        response: AccessControlResponse,
    ) -> Action {
        let action = match self.sessions.get_mut(&session_id) {
            Some(session) => session.handle_access_control_response(now, session_id, response),
            None => Action::DropConnection(session_id),
        };
        // hlsorigin patch: a session that opened or was rejected is no longer pending.
        if !still_pending(&action) {
            self.pending.remove(&session_id);
        }
        action
    }

    fn handle_timer(&mut self, now: Instant) -> Action {
        if self.stats_timer.check_expired(now).is_some() {
            self.stats.sessions = self.sessions.len() as u64;
            Action::UpdateStatistics(&self.stats)
        } else if let Some(action) = self.next_probe().or_else(|| self.start_probe(now)) {
            // hlsorigin patch: ended connections are dropped (see PROBE).
            action
        } else if let Some(action) = self.expire(now) {
            // hlsorigin patch: pending handshakes expire (see PENDING_IDLE).
            action
        } else {
            // TODO: create an action that returns an action with an Iterator that ticks time forward
            //  for all the sessions, yielding the results to the I/O loop
            Action::WaitForInput
        }
    }

    fn handle_success(&mut self, _now: Instant, result_of: ResultOf) -> Action {
        use ResultOf::*;
        match result_of {
            SendPacket(_) => {
                self.stats.tx_packets += 1;
            }
            RequestAccess(_) => {
                self.stats.cx_inbound += 1;
            }
            RejectConnection(session_id) => {
                self.stats.cx_rejected += 1;
                self.sessions.remove(&session_id);
                self.pending.remove(&session_id);
            }
            OpenConnection(_) => {
                self.stats.cx_opened += 1;
            }
            DelegatePacket(_) => {
                self.stats.delegated_packets += 1;
            }
            DropConnection(session_id) => {
                self.stats.cx_dropped += 1;
                self.sessions.remove(&session_id);
                self.pending.remove(&session_id);
            }
            UpdateStatistics => {}
        }
        // hlsorigin patch: a probe round goes on until every open session was probed.
        self.next_probe().unwrap_or(Action::WaitForInput)
    }

    fn handle_failure(&mut self, now: Instant, result_of: ResultOf) -> Action {
        use ResultOf::*;
        match result_of {
            // hlsorigin patch: how an ended connection is found (see PROBE): not a warning.
            DelegatePacket(session_id) => {
                log::debug!("listen:{}|ended - {:?}", self.local_address.port(), session_id);
                Action::DropConnection(session_id)
            }
            // TODO: stats? anything else?
            _ => {
                self.warn(now, "failure", &result_of);
                self.next_probe().unwrap_or(Action::WaitForInput)
            }
        }
    }

    fn handle_close(&mut self) -> Action {
        Action::Close
    }

    fn warn(&self, now: Instant, tag: &str, debug: &impl Debug) {
        log::warn!(
            "{:?}|listen:{}|{} - {:?}",
            TimeSpan::from_interval(self.start_time, now),
            self.local_address.port(),
            tag,
            debug
        );
    }
}

/// hlsorigin patch: whether a session whose handling ended in `action` is still pending
/// (an open session delegates, a rejected or dropped one says so).
fn still_pending(action: &Action) -> bool {
    matches!(
        action,
        Action::WaitForInput | Action::SendPacket(_) | Action::RequestAccess(..)
    )
}

/// hlsorigin patch: a probe delegated to an open connection: a keepalive "from" port 0,
/// where no datagram comes from, which the connection ignores without a word
/// (`Connection::handle_packet`).
pub fn probe_packet() -> (Packet, SocketAddr) {
    let packet = Packet::Control(ControlPacket {
        timestamp: TimeStamp::from_micros(0),
        dest_sockid: SocketId(0),
        control_type: ControlTypes::KeepAlive,
    });
    (packet, PROBE_FROM)
}

/// hlsorigin patch: the source address of [`probe_packet`].
pub const PROBE_FROM: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

#[cfg(test)]
mod test {
    use assert_matches::assert_matches;
    use std::{
        net::{IpAddr, Ipv4Addr},
        time::Duration,
    };

    use rand::random;

    use crate::options::{KeySize, PacketCount, PacketSize, SrtVersion};

    use super::*;

    fn conn_addr() -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 8765)
    }

    fn test_induction() -> HandshakeControlInfo {
        HandshakeControlInfo {
            init_seq_num: random(),
            max_packet_size: PacketSize(1316),
            max_flow_size: PacketCount(256_000),
            shake_type: ShakeType::Induction,
            socket_id: SocketId(15),
            syn_cookie: 0,
            peer_addr: IpAddr::from([127, 0, 0, 1]),
            info: HandshakeVsInfo::V5(HsV5Info::default()),
        }
    }

    fn test_conclusion() -> HandshakeControlInfo {
        HandshakeControlInfo {
            init_seq_num: random(),
            max_packet_size: PacketSize(1316),
            max_flow_size: PacketCount(256_000),
            shake_type: ShakeType::Conclusion,
            socket_id: SocketId(15),
            syn_cookie: crate::protocol::pending_connection::cookie::gen_cookie(&conn_addr()),
            peer_addr: IpAddr::from([127, 0, 0, 1]),
            info: HandshakeVsInfo::V5(HsV5Info {
                key_size: KeySize::Unspecified,
                ext_hs: Some(SrtControlPacket::HandshakeRequest(SrtHandshake {
                    version: SrtVersion::CURRENT,
                    flags: SrtShakeFlags::SUPPORTED,
                    send_latency: Duration::from_secs(1),
                    recv_latency: Duration::from_secs(2),
                })),
                ext_km: None,
                ext_group: None,
                ext_config: Vec::new(),
                sid: None,
            }),
        }
    }

    fn dest_sock_id() -> SocketId {
        SocketId(6)
    }

    fn session_id() -> SessionId {
        SessionId(conn_addr())
    }

    fn build_hs_pack(i: HandshakeControlInfo) -> Packet {
        Packet::Control(ControlPacket {
            timestamp: TimeStamp::from_micros(0),
            dest_sockid: dest_sock_id(),
            control_type: ControlTypes::Handshake(i),
        })
    }

    #[test]
    fn connect() {
        let settings = ConnInitSettings::default();
        let local = "0.0.0.0:2000".parse().unwrap();
        let mut listener = MultiplexListener::new(Instant::now(), local, settings);

        let packet = build_hs_pack(test_induction());
        let action =
            listener.handle_input(Instant::now(), Input::Packet(Ok((packet, conn_addr()))));
        assert_matches!(action, Action::SendPacket(_));

        let packet = build_hs_pack(test_conclusion());
        let action =
            listener.handle_input(Instant::now(), Input::Packet(Ok((packet, conn_addr()))));
        assert_matches!(action, Action::RequestAccess(_, _));

        let action = listener.handle_input(
            Instant::now(),
            Input::AccessResponse(Some((session_id(), AccessControlResponse::Accepted(None)))),
        );
        assert_matches!(action, Action::OpenConnection(_, _));

        use crate::listener::ResultOf::*;

        let action =
            listener.handle_input(Instant::now(), Input::Success(OpenConnection(session_id())));
        assert_matches!(action, Action::WaitForInput);

        let packet = build_hs_pack(test_conclusion());
        let action =
            listener.handle_input(Instant::now(), Input::Packet(Ok((packet, conn_addr()))));
        assert_matches!(action, Action::DelegatePacket(_, _));
    }

    #[test]
    fn reject() {
        let settings = ConnInitSettings::default();
        let local = "127.0.0.1:2000".parse().unwrap();
        let mut listener = MultiplexListener::new(Instant::now(), local, settings);

        let packet = build_hs_pack(test_induction());
        let action =
            listener.handle_input(Instant::now(), Input::Packet(Ok((packet, conn_addr()))));
        assert_matches!(action, Action::SendPacket(_));

        let packet = build_hs_pack(test_conclusion());
        let action =
            listener.handle_input(Instant::now(), Input::Packet(Ok((packet, conn_addr()))));
        assert_matches!(action, Action::RequestAccess(_, _));

        let action = listener.handle_input(
            Instant::now(),
            Input::AccessResponse(Some((
                session_id(),
                AccessControlResponse::Rejected(RejectReason::User(100)),
            ))),
        );
        assert_matches!(
            action,
            Action::RejectConnection(_, Some((Packet::Control(_), _)))
        );

        let packet = build_hs_pack(test_conclusion());
        let action =
            listener.handle_input(Instant::now(), Input::Packet(Ok((packet, conn_addr()))));
        assert_matches!(
            action,
            Action::RejectConnection(_, Some((Packet::Control(_), _)))
        );

        let action = listener.handle_input(
            Instant::now(),
            Input::Success(ResultOf::RejectConnection(session_id())),
        );
        assert_eq!(action, Action::WaitForInput);
    }
}
