// SPDX-License-Identifier: MIT OR Apache-2.0
//! Optional TLS (rustls, feature `tls`): HTTP/2 or HTTP/1.1 chosen by ALPN (RFC 7301,
//! RFC 9113 3.2).

pub(crate) use imp::TlsAcceptor;

#[cfg(feature = "tls")]
mod imp {
    use std::io;
    use std::path::Path;
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::net::TcpStream;
    use tokio_rustls::server::TlsStream;

    use crate::error::OriginError;

    /// Accepts TLS connections with one certificate.
    #[derive(Clone)]
    pub(crate) struct TlsAcceptor(tokio_rustls::TlsAcceptor);

    impl std::fmt::Debug for TlsAcceptor {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("TlsAcceptor")
        }
    }

    impl TlsAcceptor {
        pub(crate) fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, OriginError> {
            let certs = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| OriginError::Tls(format!("certificate {}: {e}", cert.display())))?;
            if certs.is_empty() {
                return Err(OriginError::Tls(format!(
                    "certificate {}: no certificate in file",
                    cert.display()
                )));
            }
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| OriginError::Tls(format!("key {}: {e}", key.display())))?;
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
                .map_err(|e| OriginError::Tls(e.to_string()))?;
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            Ok(Self(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
        }

        /// Completes the handshake; `true` when the client chose HTTP/2.
        pub(crate) async fn accept(
            &self,
            stream: TcpStream,
        ) -> io::Result<(TlsStream<TcpStream>, bool)> {
            let tls = self.0.accept(stream).await?;
            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
            Ok((tls, h2))
        }
    }
}

#[cfg(not(feature = "tls"))]
mod imp {
    use std::path::Path;

    use crate::error::OriginError;

    /// Stands in for the acceptor when the crate is built without TLS: loading always fails.
    #[derive(Debug, Clone)]
    pub(crate) enum TlsAcceptor {}

    impl TlsAcceptor {
        pub(crate) fn from_pem_files(_cert: &Path, _key: &Path) -> Result<Self, OriginError> {
            Err(OriginError::Tls(
                "this build has no TLS support (cargo feature `tls`)".into(),
            ))
        }

        pub(crate) async fn accept(
            &self,
            _stream: tokio::net::TcpStream,
        ) -> std::io::Result<(tokio::net::TcpStream, bool)> {
            match *self {}
        }
    }
}
