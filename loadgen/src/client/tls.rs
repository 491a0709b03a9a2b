//! TLS for `https://` targets (rustls with the *ring* provider): which server certificates a
//! connection trusts — the Mozilla roots (`webpki-roots`, the default), the roots of a PEM
//! CA file (`--ca-file`, e.g. a local test CA), or any certificate at all (`--insecure`, for
//! a self-signed development server) — built once into client configurations for HTTP/1.1
//! and HTTP/2 (ALPN). The process-wide choice is set once by the binary from its flags
//! ([`set_process_trust`]); a [`Tls`] given in `ClientConfig` overrides it (tests use that).
//! Never reads certificates per connection and never logs key material.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{Error, Result};

/// Which server certificates to trust.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Trust {
    /// The Mozilla root programme's CAs (`webpki-roots`).
    #[default]
    WebPkiRoots,
    /// The CA certificates in this PEM file (only them).
    CaFile(PathBuf),
    /// Any certificate, unchecked (signatures of the handshake are still verified).
    Insecure,
}

/// Client configurations for one trust choice: HTTP/1.1 and HTTP/2 (by ALPN).
#[derive(Clone)]
pub struct Tls {
    h1: Arc<rustls::ClientConfig>,
    h2: Arc<rustls::ClientConfig>,
    trust: Trust,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("trust", &self.trust).finish()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Tls {
    /// Builds the configurations (reads the CA file, if any, now).
    pub fn new(trust: Trust) -> Result<Tls> {
        let provider = provider();
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?;
        let base = match &trust {
            Trust::WebPkiRoots => {
                let roots = RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                };
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            Trust::CaFile(path) => builder
                .with_root_certificates(roots_from(path)?)
                .with_no_client_auth(),
            Trust::Insecure => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
                .with_no_client_auth(),
        };
        let with_alpn = |proto: &[u8]| {
            let mut c = base.clone();
            c.alpn_protocols = vec![proto.to_vec()];
            Arc::new(c)
        };
        Ok(Tls {
            h1: with_alpn(b"http/1.1"),
            h2: with_alpn(b"h2"),
            trust,
        })
    }

    /// A connector for HTTP/2 (`h2`) or HTTP/1.1.
    pub fn connector(&self, http2: bool) -> tokio_rustls::TlsConnector {
        let config = if http2 { &self.h2 } else { &self.h1 };
        tokio_rustls::TlsConnector::from(config.clone())
    }

    /// The trust this was built for.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }
}

fn roots_from(path: &Path) -> Result<RootCertStore> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| Error::Tls(format!("cannot read CA file {shown}: {e}")))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls(format!("CA file {shown}: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Tls(format!(
            "CA file {shown} holds no PEM certificate"
        )));
    }
    let mut roots = RootCertStore::empty();
    for c in certs {
        roots
            .add(c)
            .map_err(|e| Error::Tls(format!("CA file {shown}: {e}")))?;
    }
    Ok(roots)
}

/// A server name for SNI and certificate checks from a URL host (IP literals included).
pub fn server_name(host: &str) -> Result<ServerName<'static>> {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(h.to_string())
        .map_err(|e| Error::Tls(format!("{host:?} is not a valid TLS server name: {e}")))
}

static PROCESS: OnceLock<Tls> = OnceLock::new();

/// Sets the process-wide trust (the binary calls this once, from `--insecure`/`--ca-file`,
/// before any connection). A second call with another choice is an error.
pub fn set_process_trust(trust: Trust) -> Result<()> {
    let tls = Tls::new(trust.clone())?;
    let set = PROCESS.get_or_init(|| tls);
    if set.trust != trust {
        return Err(Error::Tls(format!(
            "TLS trust already set to {:?}",
            set.trust
        )));
    }
    Ok(())
}

/// The process-wide configurations (the Mozilla roots unless the binary chose otherwise).
pub fn process() -> Result<Tls> {
    if let Some(t) = PROCESS.get() {
        return Ok(t.clone());
    }
    let tls = Tls::new(Trust::WebPkiRoots)?;
    Ok(PROCESS.get_or_init(|| tls).clone())
}

/// `--insecure`: accepts every certificate, still checking the handshake's signatures.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
