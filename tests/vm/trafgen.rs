//! The traffic generator the guest runs as `vm trafgen ...` (the test binary itself, so one binary
//! serves as both harness and generator).
//!
//! Every packet (UDP) or message (TCP) is `--size` bytes whose first 4 bytes are its sequence ID,
//! big-endian, counting from 1: the packet ID that `--payload-id` tracing reads.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use serde::{Deserialize, Serialize};

#[derive(Parser)]
#[command(
    name = "vm trafgen",
    about = "Send or count packets carrying sequence IDs"
)]
enum Cmd {
    /// Send COUNT packets with IDs 1..=COUNT.
    Send {
        #[arg(long, value_enum, default_value = "udp")]
        proto: Proto,
        #[arg(long)]
        to: SocketAddr,
        #[arg(long, default_value_t = 100)]
        count: u32,
        /// Packets per second; 0 sends as fast as possible.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// The first ID (the others follow it), so two senders' IDs never meet.
        #[arg(long, default_value_t = 1)]
        first: u32,
    },
    /// Tell another host WORD over UDP: send it every half second until that host answers
    /// `ack WORD` (see `await`); fail after TIMEOUT seconds. The two-host bed's guests
    /// coordinate so, over their own wire (tests/vm/pair.rs).
    Tell {
        #[arg(long)]
        to: SocketAddr,
        #[arg(long)]
        word: String,
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Wait until a datagram WORD arrives on BIND, answer `ack WORD` to its sender; fail after
    /// TIMEOUT seconds, naming what never came.
    Await {
        #[arg(long)]
        bind: SocketAddr,
        #[arg(long)]
        word: String,
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Receive until COUNT packets arrived (exit 0) or TIMEOUT seconds passed (exit 1).
    Recv {
        #[arg(long, value_enum, default_value = "udp")]
        proto: Proto,
        #[arg(long)]
        bind: SocketAddr,
        #[arg(long, default_value_t = 100)]
        count: u32,
        #[arg(long, default_value_t = 20)]
        timeout: u64,
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Created once the socket is bound, so a script knows when to start sending.
        #[arg(long)]
        ready: Option<PathBuf>,
        /// Where to write the received IDs, one per line, in arrival order.
        #[arg(long)]
        ids: Option<PathBuf>,
    },
    /// Hold an AF_PACKET socket on device DEV, as tcpdump does, until the file UNTIL exists;
    /// then print how many frames it read. The kernel hands the socket a clone of each frame.
    Tap {
        #[arg(long)]
        dev: String,
        #[arg(long)]
        until: PathBuf,
        /// Created once the socket is bound.
        #[arg(long)]
        ready: Option<PathBuf>,
    },
    /// Send UDP datagrams as fast as possible for SECONDS (or until the file UNTIL exists),
    /// then print how many went out.
    Flood {
        #[arg(long)]
        to: SocketAddr,
        #[arg(long)]
        seconds: f64,
        #[arg(long)]
        until: Option<PathBuf>,
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Run on this CPU only.
        #[arg(long)]
        cpu: Option<usize>,
    },
    /// Count a UDP flood: after WARMUP seconds, ROUNDS rounds of SECS seconds, each printed as
    /// one JSON line (`bench_hits::Round`). The rate is counted where packets enter the
    /// receiving namespace (device DEV's rx_packets in /proc/net/dev), so a slow reader does
    /// not hide the kernel's rate; what reached UDP and what we read are counted too.
    Sink {
        #[arg(long)]
        bind: SocketAddr,
        #[arg(long, default_value = "eth0")]
        dev: String,
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        #[arg(long, default_value_t = 3)]
        rounds: u32,
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
        /// Take every BPF program's run count and run time at the edges of each round
        /// (kernel.bpf_stats_enabled must be 1: the caller sets it while no packet flows).
        #[arg(long)]
        bpf_stats: bool,
        /// Seconds to wait for the first datagram.
        #[arg(long, default_value_t = 20)]
        timeout: u64,
        /// Created once the socket is bound.
        #[arg(long)]
        ready: Option<PathBuf>,
        /// Run on this CPU only.
        #[arg(long)]
        cpu: Option<usize>,
        /// Which repetition of the measurement this is, copied into the output.
        #[arg(long, default_value_t = 1)]
        rep: u32,
        /// Created after the last round (the flood's --until); the sink then reads on until
        /// the flood has stopped, so no datagram meets a closed port or a purged queue.
        #[arg(long)]
        done: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Proto {
    Udp,
    Tcp,
}

/// Entry point for `vm trafgen ARGS`; returns the process exit status.
pub fn main(args: &[String]) -> i32 {
    let cmd =
        Cmd::parse_from(std::iter::once("vm trafgen".to_string()).chain(args.iter().cloned()));
    match run(cmd) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("trafgen: {e}");
            1
        }
    }
}

fn run(cmd: Cmd) -> std::io::Result<()> {
    match cmd {
        Cmd::Tap { dev, until, ready } => tap(&dev, &until, &ready),
        Cmd::Flood {
            to,
            seconds,
            until,
            size,
            cpu,
        } => flood(to, seconds, &until, size, cpu),
        Cmd::Sink {
            bind,
            dev,
            warmup,
            rounds,
            secs,
            bpf_stats,
            timeout,
            ready,
            cpu,
            rep,
            done,
        } => sink(
            bind,
            &dev,
            &Rounds {
                warmup,
                rounds,
                secs,
                bpf_stats,
                rep,
            },
            timeout,
            &ready,
            &done,
            cpu,
        ),
        Cmd::Tell { to, word, timeout } => tell(to, &word, timeout),
        Cmd::Await {
            bind,
            word,
            timeout,
        } => await_word(bind, &word, timeout),
        Cmd::Send {
            proto,
            to,
            count,
            rate,
            size,
            first,
        } => {
            let size = size.max(4);
            enum Socket {
                Udp(UdpSocket),
                Tcp(TcpStream),
            }
            let mut socket = match proto {
                Proto::Udp => Socket::Udp(UdpSocket::bind(if to.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                })?),
                Proto::Tcp => {
                    Socket::Tcp(TcpStream::connect_timeout(&to, Duration::from_secs(10))?)
                }
            };
            let start = Instant::now();
            let mut buf = vec![0u8; size];
            for (n, id) in (first..first + count).enumerate() {
                if rate > 0 {
                    let due = start + Duration::from_secs_f64(n as f64 / f64::from(rate));
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                }
                buf[..4].copy_from_slice(&id.to_be_bytes());
                match &mut socket {
                    Socket::Udp(udp) => {
                        udp.send_to(&buf, to)?;
                    }
                    Socket::Tcp(tcp) => tcp.write_all(&buf)?,
                }
            }
            println!("trafgen: sent {count} {} packets to {to}", proto.name());
            Ok(())
        }
        Cmd::Recv {
            proto,
            bind,
            count,
            timeout,
            size,
            ready,
            ids,
        } => {
            let size = size.max(4);
            let deadline = Instant::now() + Duration::from_secs(timeout);
            let mut got: Vec<u32> = Vec::new();
            let mut buf = vec![0u8; 65536];
            match proto {
                Proto::Udp => {
                    let sock = UdpSocket::bind(bind)?;
                    signal_ready(&ready)?;
                    while got.len() < count as usize {
                        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                            break;
                        };
                        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
                        match sock.recv(&mut buf) {
                            Ok(n) if n >= 4 => {
                                got.push(u32::from_be_bytes(buf[..4].try_into().unwrap()))
                            }
                            Ok(_) => {}
                            Err(e) if is_timeout(&e) => break,
                            Err(e) => return Err(e),
                        }
                    }
                }
                Proto::Tcp => {
                    let listener = TcpListener::bind(bind)?;
                    signal_ready(&ready)?;
                    let (mut stream, _) = listener.accept()?;
                    stream.set_read_timeout(Some(Duration::from_secs(timeout)))?;
                    let msg = &mut buf[..size];
                    while got.len() < count as usize {
                        match stream.read_exact(msg) {
                            Ok(()) => got.push(u32::from_be_bytes(msg[..4].try_into().unwrap())),
                            Err(e)
                                if is_timeout(&e)
                                    || e.kind() == std::io::ErrorKind::UnexpectedEof =>
                            {
                                break
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
            if let Some(path) = ids {
                let text: String = got.iter().map(|id| format!("{id}\n")).collect();
                fs::write(path, text)?;
            }
            println!(
                "trafgen: received {}/{count} {} packets on {bind}",
                got.len(),
                proto.name()
            );
            if got.len() < count as usize {
                return Err(std::io::Error::other(format!(
                    "only {} of {count} packets arrived",
                    got.len()
                )));
            }
            Ok(())
        }
    }
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
        }
    }
}

/// See `Cmd::Tell`.
fn tell(to: SocketAddr, word: &str, timeout: u64) -> std::io::Result<()> {
    let sock = UdpSocket::bind(if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })?;
    sock.set_read_timeout(Some(Duration::from_millis(500)))?;
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let ack = format!("ack {word}");
    let mut buf = [0u8; 256];
    while Instant::now() < deadline {
        // Until the other host is up, sends may fail (no neighbour yet): keep trying.
        let _ = sock.send_to(word.as_bytes(), to);
        match sock.recv_from(&mut buf) {
            Ok((n, from)) if from.ip() == to.ip() && buf[..n] == *ack.as_bytes() => {
                println!("trafgen: {to} heard '{word}'");
                return Ok(());
            }
            Ok(_) => {}
            Err(e) if is_timeout(&e) || e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!(
        "told {to} '{word}' for {timeout} s and it never answered: is the other host up?"
    )))
}

/// See `Cmd::Await`.
fn await_word(bind: SocketAddr, word: &str, timeout: u64) -> std::io::Result<()> {
    let sock = UdpSocket::bind(bind)?;
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let ack = format!("ack {word}");
    let mut buf = [0u8; 256];
    let mut heard = None;
    // After the first WORD, stay a second more to answer repeats whose ack was lost.
    loop {
        let until = heard.map_or(deadline, |at: Instant| at + Duration::from_secs(1));
        let Some(left) = until.checked_duration_since(Instant::now()) else {
            break;
        };
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
        match sock.recv_from(&mut buf) {
            Ok((n, from)) if buf[..n] == *word.as_bytes() => {
                sock.send_to(ack.as_bytes(), from)?;
                if heard.is_none() {
                    println!("trafgen: heard '{word}' from {from}");
                    heard = Some(Instant::now());
                }
            }
            Ok(_) => {}
            Err(e) if is_timeout(&e) => break,
            Err(e) => return Err(e),
        }
    }
    match heard {
        Some(_) => Ok(()),
        None => Err(std::io::Error::other(format!(
            "no '{word}' from the other host on {bind} within {timeout} s: is it up?"
        ))),
    }
}

fn signal_ready(ready: &Option<PathBuf>) -> std::io::Result<()> {
    match ready {
        Some(path) => fs::write(path, ""),
        None => Ok(()),
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Reads frames from an AF_PACKET socket bound to `dev` until `until` exists.
fn tap(dev: &str, until: &std::path::Path, ready: &Option<PathBuf>) -> std::io::Result<()> {
    let all = (libc::ETH_P_ALL as u16).to_be();
    let name = std::ffi::CString::new(dev)?;
    // SAFETY: the name is a valid C string; the call only reads it.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if ifindex == 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: plain socket creation; the descriptor is owned right below.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            all.into(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: a zeroed sockaddr_ll is valid; the fields set make it name the device.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = all;
    addr.sll_ifindex = ifindex as i32;
    let timeout = libc::timeval {
        tv_sec: 0,
        tv_usec: 100_000,
    };
    // SAFETY: both calls read the structures passed with their exact sizes.
    let rc = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        ) | libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&timeout as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    signal_ready(ready)?;
    let mut file = fs::File::from(sock);
    let (mut frames, mut buf) = (0u64, vec![0u8; 65536]);
    while !until.exists() {
        match file.read(&mut buf) {
            Ok(_) => frames += 1,
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    println!("{frames}");
    Ok(())
}

/// Pins the calling thread to one CPU, so sender and receiver do not share one.
fn pin(cpu: Option<usize>) -> std::io::Result<()> {
    let Some(cpu) = cpu else { return Ok(()) };
    // SAFETY: a zeroed cpu_set_t is the empty set; the call only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn flood(
    to: SocketAddr,
    seconds: f64,
    until: &Option<PathBuf>,
    size: usize,
    cpu: Option<usize>,
) -> std::io::Result<()> {
    pin(cpu)?;
    let sock = UdpSocket::bind(if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })?;
    // Connected: no route lookup per datagram, as a real flood would do.
    sock.connect(to)?;
    let mut buf = vec![0u8; size.max(4)];
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    let (mut sent, mut errors, mut id) = (0u64, 0u64, 0u32);
    loop {
        // One clock read and one stat per 256 datagrams.
        if id % 256 == 0 && (Instant::now() >= end || until.as_ref().is_some_and(|f| f.exists())) {
            break;
        }
        id = id.wrapping_add(1);
        buf[..4].copy_from_slice(&id.to_be_bytes());
        match sock.send(&buf) {
            Ok(_) => sent += 1,
            // A full queue or a port-unreachable reply to an earlier datagram: keep going.
            Err(_) => errors += 1,
        }
    }
    let took = start.elapsed().as_secs_f64();
    println!(
        "trafgen: flood sent {sent} datagrams of {} bytes to {to} in {took:.1} s ({:.0}/s), {errors} send errors",
        buf.len(),
        sent as f64 / took
    );
    Ok(())
}

/// What the sink measures after the first datagram arrived.
struct Rounds {
    warmup: f64,
    rounds: u32,
    secs: f64,
    bpf_stats: bool,
    rep: u32,
}

/// The namespace's UDP counters (/proc/net/snmp).
#[derive(Clone, Copy, Default)]
struct UdpMib {
    /// Datagrams read by applications (the kernel counts them in recvmsg).
    in_datagrams: u64,
    /// Datagrams that reached a socket but were dropped (full buffer, memory).
    in_errors: u64,
}

impl UdpMib {
    fn read() -> std::io::Result<UdpMib> {
        let text = fs::read_to_string("/proc/net/snmp")?;
        let mut udp = text.lines().filter(|l| l.starts_with("Udp: "));
        let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
            return Err(std::io::Error::other("no Udp lines in /proc/net/snmp"));
        };
        let field = |want: &str| -> u64 {
            names
                .split_whitespace()
                .zip(values.split_whitespace())
                .find(|(n, _)| *n == want)
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0)
        };
        Ok(UdpMib {
            in_datagrams: field("InDatagrams"),
            in_errors: field("InErrors"),
        })
    }

    fn reached(&self) -> u64 {
        self.in_datagrams + self.in_errors
    }
}

/// Packets device `dev` of our namespace received (/proc/net/dev).
fn dev_rx_packets(dev: &str) -> std::io::Result<u64> {
    let text = fs::read_to_string("/proc/net/dev")?;
    text.lines()
        .find_map(|l| {
            let (name, counters) = l.split_once(':')?;
            // rx bytes, then rx packets
            (name.trim() == dev).then(|| counters.split_whitespace().nth(1)?.parse().ok())?
        })
        .ok_or_else(|| std::io::Error::other(format!("no device {dev} in /proc/net/dev")))
}

/// Counters at one instant.
#[derive(Clone, Copy)]
struct Sample {
    at: Instant,
    read: u64,
    rx: u64,
    udp: UdpMib,
}

impl Sample {
    fn take(dev: &str, read: u64) -> std::io::Result<Sample> {
        Ok(Sample {
            at: Instant::now(),
            read,
            rx: dev_rx_packets(dev)?,
            udp: UdpMib::read()?,
        })
    }
}

/// The edge of a round: counters, then (with BPF statistics) every program's counters and the
/// packet counters again, since reading thousands of programs takes a while.
struct Edge {
    first: Sample,
    progs: Option<ProgSnapshot>,
    last: Sample,
}

impl Edge {
    fn take(dev: &str, read: u64, progs: bool) -> std::io::Result<Edge> {
        let first = Sample::take(dev, read)?;
        if !progs {
            return Ok(Edge {
                first,
                progs: None,
                last: first,
            });
        }
        let snap = ProgSnapshot::take();
        Ok(Edge {
            first,
            progs: Some(snap),
            last: Sample::take(dev, read)?,
        })
    }

    /// Packets received, at the middle of the edge (when the programs were read, on average).
    fn rx_mid(&self) -> f64 {
        (self.first.rx + self.last.rx) as f64 / 2.0
    }
}

fn sink(
    bind: SocketAddr,
    dev: &str,
    plan: &Rounds,
    timeout: u64,
    ready: &Option<PathBuf>,
    done: &Option<PathBuf>,
    cpu: Option<usize>,
) -> std::io::Result<()> {
    pin(cpu)?;
    let sock = UdpSocket::bind(bind)?;
    // 16 MiB of socket buffer: a reader descheduled for a moment (the emulator's threads share
    // the host's cores) must not drop datagrams, which would change the packets' path.
    let bytes: libc::c_int = 16 << 20;
    // SAFETY: setsockopt reads an int from a local; SO_RCVBUFFORCE needs CAP_NET_ADMIN (root).
    if unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&sock),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&bytes as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    } != 0
    {
        return Err(std::io::Error::last_os_error());
    }
    signal_ready(ready)?;
    let mut buf = vec![0u8; 65536];
    sock.set_read_timeout(Some(Duration::from_secs(timeout)))?;
    sock.recv(&mut buf).map_err(|e| {
        std::io::Error::other(format!("no datagram on {bind} within {timeout} s: {e}"))
    })?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut read = 1u64;
    let mut drain = |until: Instant, read: &mut u64| -> std::io::Result<()> {
        while Instant::now() < until {
            match sock.recv(&mut buf) {
                Ok(_) => *read += 1,
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    };
    drain(
        Instant::now() + Duration::from_secs_f64(plan.warmup),
        &mut read,
    )?;
    let stats = plan.bpf_stats;
    if stats && fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled")?.trim() != "1" {
        return Err(std::io::Error::other(
            "--bpf-stats: kernel.bpf_stats_enabled is not 1",
        ));
    }
    for round in 1..=plan.rounds {
        let start = Edge::take(dev, read, stats)?;
        drain(
            start.last.at + Duration::from_secs_f64(plan.secs),
            &mut read,
        )?;
        let end = Edge::take(dev, read, stats)?;
        let (a, b) = (start.last, end.first);
        let r = Round {
            rep: plan.rep,
            round,
            bpf_stats: stats,
            secs: b.at.duration_since(a.at).as_secs_f64(),
            rx: b.rx - a.rx,
            reached_udp: b.udp.reached() - a.udp.reached(),
            read: b.read - a.read,
            dropped: b.udp.in_errors - a.udp.in_errors,
            packets_mid: end.rx_mid() - start.rx_mid(),
            progs: match (&start.progs, &end.progs) {
                (Some(s), Some(e)) => e.since(s),
                _ => Vec::new(),
            },
        };
        println!(
            "{}",
            serde_json::to_string(&r).map_err(std::io::Error::other)?
        );
    }
    if let Some(done) = done {
        fs::write(done, "")?;
        // Until 100 ms pass without a datagram.
        while sock.recv(&mut buf).is_ok() {}
    }
    Ok(())
}

// ---- what the sink prints: rates and the BPF programs' run counters ----

/// One round of the sink (`trafgen sink`), as it prints it.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Round {
    pub rep: u32,
    pub round: u32,
    pub bpf_stats: bool,
    pub secs: f64,
    /// Packets the receiving device took in: the rate the sender's path sustains.
    pub rx: u64,
    /// Datagrams that reached UDP in the receiving namespace (read or dropped at the socket).
    pub reached_udp: u64,
    /// Datagrams the sink read.
    pub read: u64,
    /// Datagrams dropped at the socket (full receive buffer).
    pub dropped: u64,
    /// Packets received between the middles of the two program snapshots.
    pub packets_mid: f64,
    /// Per program name: what ran during the round.
    pub progs: Vec<ProgGroup>,
}

/// The programs of one name, summed over the round.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct ProgGroup {
    pub name: String,
    pub progs: u32,
    /// Programs that ran at least once.
    pub ran: u32,
    pub runs: u64,
    pub run_ns: u64,
    pub misses: u64,
    /// Translated instructions of the largest program.
    pub insns: u32,
}

#[derive(Clone)]
struct ProgSample {
    name: String,
    runs: u64,
    run_ns: u64,
    misses: u64,
    insns: u32,
}

/// Every BPF program's counters at one moment, by program id.
pub struct ProgSnapshot(HashMap<u32, ProgSample>);

impl ProgSnapshot {
    pub fn take() -> ProgSnapshot {
        let mut all = HashMap::new();
        let mut id = 0u32;
        // SAFETY: the libbpf wrappers only write the next id into the local.
        while unsafe { libbpf_sys::bpf_prog_get_next_id(id, &mut id) } == 0 {
            // SAFETY: plain syscall; a program released meanwhile gives an error.
            let fd = unsafe { libbpf_sys::bpf_prog_get_fd_by_id(id) };
            if fd < 0 {
                continue;
            }
            // SAFETY: a fresh fd we own.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            if let Some(info) = vrft_tui::tracer::prog_info(fd.as_raw_fd()) {
                let name: Vec<u8> = info
                    .name
                    .iter()
                    .take_while(|&&c| c != 0)
                    .map(|&c| c as u8)
                    .collect();
                all.insert(
                    id,
                    ProgSample {
                        name: String::from_utf8_lossy(&name).into_owned(),
                        runs: info.run_cnt,
                        run_ns: info.run_time_ns,
                        misses: info.recursion_misses,
                        insns: info.xlated_prog_len / 8,
                    },
                );
            }
        }
        ProgSnapshot(all)
    }

    /// What ran between `start` and this snapshot, grouped by program name.
    pub fn since(&self, start: &ProgSnapshot) -> Vec<ProgGroup> {
        let mut groups: BTreeMap<&str, ProgGroup> = BTreeMap::new();
        for (id, e) in &self.0 {
            let s = start.0.get(id);
            let delta = |f: fn(&ProgSample) -> u64| f(e) - s.map_or(0, f);
            let g = groups.entry(&e.name).or_insert_with(|| ProgGroup {
                name: e.name.clone(),
                ..Default::default()
            });
            let runs = delta(|p| p.runs);
            g.progs += 1;
            g.ran += u32::from(runs > 0);
            g.runs += runs;
            g.run_ns += delta(|p| p.run_ns);
            g.misses += delta(|p| p.misses);
            g.insns = g.insns.max(e.insns);
        }
        groups.into_values().collect()
    }
}
