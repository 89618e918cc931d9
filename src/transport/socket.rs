//! Opening the TCP stream of a link: connect timeout, `TCP_NODELAY`, keepalive.

use std::time::Duration;

use tokio::net::TcpStream;

use super::config::ConnectionConfig;
use super::error::ConnectError;

/// Probes sent by TCP keepalive before the kernel gives up on a silent peer.
const KEEPALIVE_PROBES: u32 = 3;

/// Connects to `addr` within `config.connect_timeout`, then sets
/// `TCP_NODELAY` and, when `config.tcp_keepalive` is set, TCP keepalive: the
/// first probe after that much idle time, then every third of it (at least
/// 1 s), [`KEEPALIVE_PROBES`] probes in all before the kernel resets the
/// socket — the reader then sees the error and the link goes down.
pub(crate) async fn open(addr: &str, config: &ConnectionConfig) -> Result<TcpStream, ConnectError> {
    let connect = async {
        TcpStream::connect(addr).await.map_err(|error| ConnectError::Io {
            addr: addr.into(),
            error,
        })
    };
    let stream = super::connect::with_timeout(addr, config.connect_timeout, connect).await?;
    let io = |error| ConnectError::Io {
        addr: addr.into(),
        error,
    };
    stream.set_nodelay(true).map_err(io)?;
    if let Some(idle) = config.tcp_keepalive {
        let keepalive = socket2::TcpKeepalive::new()
            .with_time(idle)
            .with_interval((idle / 3).max(Duration::from_secs(1)))
            .with_retries(KEEPALIVE_PROBES);
        socket2::SockRef::from(&stream)
            .set_tcp_keepalive(&keepalive)
            .map_err(io)?;
    }
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::SockRef;
    use tokio::net::TcpListener;

    async fn open_to_listener(config: &ConnectionConfig) -> TcpStream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        open(&addr, config).await.expect("connect")
    }

    #[tokio::test]
    async fn keepalive_and_nodelay_are_set_on_the_socket() {
        let config = ConnectionConfig {
            tcp_keepalive: Some(Duration::from_secs(12)),
            ..ConnectionConfig::default()
        };
        let stream = open_to_listener(&config).await;
        let sock = SockRef::from(&stream);
        assert!(sock.keepalive().expect("SO_KEEPALIVE"), "keepalive off");
        assert!(stream.nodelay().expect("TCP_NODELAY"));
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            assert_eq!(sock.keepalive_time().expect("TCP_KEEPIDLE"), Duration::from_secs(12));
            assert_eq!(
                sock.keepalive_interval().expect("TCP_KEEPINTVL"),
                Duration::from_secs(4)
            );
            assert_eq!(sock.keepalive_retries().expect("TCP_KEEPCNT"), KEEPALIVE_PROBES);
        }
    }

    #[tokio::test]
    async fn keepalive_can_be_switched_off() {
        let config = ConnectionConfig {
            tcp_keepalive: None,
            ..ConnectionConfig::default()
        };
        let stream = open_to_listener(&config).await;
        assert!(!SockRef::from(&stream).keepalive().expect("SO_KEEPALIVE"));
    }
}
