//! Certificates made at test time (rcgen): a CA, a server certificate for `localhost`, a client
//! certificate, and a second CA that signed nothing here.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};

pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write pem");
}

/// A CA, a server certificate for `localhost` and a client certificate, all signed by it, plus
/// a second CA that signed nothing here.
pub fn pki(name: &str) -> Pki {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let issue = |names: Vec<String>, usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(names).expect("params");
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &ca, &ca_key).expect("signed");
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = issue(vec!["localhost".into()], ExtendedKeyUsagePurpose::ServerAuth);
    let (client_cert, client_key) = issue(vec!["client.example".into()], ExtendedKeyUsagePurpose::ClientAuth);
    let other_key = KeyPair::generate().expect("key");
    let mut other = CertificateParams::new(Vec::new()).expect("params");
    other.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let other = other.self_signed(&other_key).expect("other ca");
    let pki = Pki { dir };
    write(&pki.path("ca.pem"), &ca.pem());
    write(&pki.path("other-ca.pem"), &other.pem());
    write(&pki.path("server.pem"), &server_cert);
    write(&pki.path("server-key.pem"), &server_key);
    write(&pki.path("client.pem"), &client_cert);
    write(&pki.path("client-key.pem"), &client_key);
    pki
}
