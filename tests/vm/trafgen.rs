//! The traffic generator the guest runs as `vm trafgen ...` (the test binary itself, so one binary
//! serves as both harness and generator).
//!
//! Every packet (UDP) or message (TCP) is `--size` bytes whose first 4 bytes are its sequence ID,
//! big-endian, counting from 1: the packet ID that `--payload-id` tracing reads.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};

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
        Cmd::Send {
            proto,
            to,
            count,
            rate,
            size,
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
            for id in 1..=count {
                if rate > 0 {
                    let due = start + Duration::from_secs_f64(f64::from(id - 1) / f64::from(rate));
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
