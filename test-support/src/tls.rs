//! A throwaway PKI for a TLS etcd, made with the `openssl` command-line tool.
//!
//! [`TlsFiles::generate`] writes a CA, a server certificate for `127.0.0.1`
//! and `localhost`, and a client certificate (ECDSA P-256, valid two days)
//! into a directory the caller owns, typically the fixture's tempdir.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use etcd_client::{Certificate, Identity, TlsOptions};

use crate::etcd::FixtureError;

const OPENSSL_BIN: &str = "openssl";

/// Extension sections for the three certificates.
const OPENSSL_CNF: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = drover-test
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
";

/// PEM files of a CA, a server and a client certificate.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The CA certificate both sides trust.
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl TlsFiles {
    /// Generates a fresh CA, server and client certificate into `dir`.
    pub fn generate(dir: &Path) -> Result<Self, FixtureError> {
        let cnf = dir.join("openssl.cnf");
        fs::write(&cnf, OPENSSL_CNF).map_err(|e| tls_err(format!("writing {cnf:?}: {e}")))?;
        let files = Self {
            ca: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server-key.pem"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client-key.pem"),
        };
        let ca_key = dir.join("ca-key.pem");
        gen_key(&ca_key)?;
        let mut ca = openssl("req");
        ca.args(["-x509", "-new", "-extensions", "ca", "-days", "2"])
            .args(["-subj", "/CN=drover-test-ca"])
            .arg("-config")
            .arg(&cnf)
            .arg("-key")
            .arg(&ca_key)
            .arg("-out")
            .arg(&files.ca);
        run(ca)?;
        let signed = [
            (
                "server",
                "/CN=localhost",
                &files.server_cert,
                &files.server_key,
            ),
            (
                "client",
                "/CN=drover-test-client",
                &files.client_cert,
                &files.client_key,
            ),
        ];
        for (serial, (section, subject, cert, key)) in (1..).zip(signed) {
            gen_key(key)?;
            let csr = dir.join(format!("{section}.csr"));
            let mut req = openssl("req");
            req.args(["-new", "-subj", subject])
                .arg("-config")
                .arg(&cnf)
                .arg("-key")
                .arg(key)
                .arg("-out")
                .arg(&csr);
            run(req)?;
            let mut sign = openssl("x509");
            sign.args(["-req", "-days", "2", "-extensions", section])
                .args(["-set_serial", &serial.to_string()])
                .arg("-in")
                .arg(&csr)
                .arg("-CA")
                .arg(&files.ca)
                .arg("-CAkey")
                .arg(&ca_key)
                .arg("-extfile")
                .arg(&cnf)
                .arg("-out")
                .arg(cert);
            run(sign)?;
        }
        Ok(files)
    }

    /// Client TLS options: trust the CA and present the client certificate.
    pub fn client_options(&self) -> Result<TlsOptions, FixtureError> {
        Ok(TlsOptions::new()
            .ca_certificate(Certificate::from_pem(read(&self.ca)?))
            .identity(Identity::from_pem(
                read(&self.client_cert)?,
                read(&self.client_key)?,
            )))
    }
}

fn gen_key(path: &Path) -> Result<(), FixtureError> {
    let mut cmd = openssl("genpkey");
    cmd.args(["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
        .arg("-out")
        .arg(path);
    run(cmd)
}

fn openssl(subcommand: &str) -> Command {
    let mut cmd = Command::new(OPENSSL_BIN);
    cmd.arg(subcommand).stdin(Stdio::null());
    cmd
}

fn run(mut cmd: Command) -> Result<(), FixtureError> {
    let output = cmd.output().map_err(|e| {
        tls_err(format!(
            "cannot run `{OPENSSL_BIN}` ({e}); install it (apt-get install openssl)"
        ))
    })?;
    if output.status.success() {
        return Ok(());
    }
    Err(tls_err(format!(
        "{cmd:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    )))
}

fn read(path: &Path) -> Result<Vec<u8>, FixtureError> {
    fs::read(path).map_err(|e| tls_err(format!("reading {path:?}: {e}")))
}

fn tls_err(msg: String) -> FixtureError {
    FixtureError::from_msg(msg)
}
