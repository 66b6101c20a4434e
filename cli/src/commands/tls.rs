//! `drover tls ca create` and `drover tls cert create --server|--client|--cli`:
//! a small CA and certificates for getting started with TLS, as `nomad
//! tls` makes them (ECDSA P-256; the CA for 5 years, certificates for 1).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// The CA: `drover-agent-ca.pem` and `drover-agent-ca-key.pem`.
    #[command(subcommand)]
    Ca(CaAction),
    /// A certificate signed by the CA.
    #[command(subcommand)]
    Cert(CertAction),
}

#[derive(Debug, clap::Subcommand)]
pub enum CaAction {
    Create {
        /// Where to write the files.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum CertAction {
    /// `<dc>-server-drover.pem` (+ `-key.pem`) for `--tls-cert`,
    /// `<dc>-client-drover.pem` for agents, `<dc>-cli-drover.pem` for the CLI.
    Create {
        #[arg(long, group = "kind")]
        server: bool,
        #[arg(long, group = "kind")]
        client: bool,
        #[arg(long, group = "kind")]
        cli: bool,
        #[arg(long, default_value = "dc1")]
        dc: String,
        /// More names the server answers to (repeatable).
        #[arg(long = "additional-dnsname")]
        dns_names: Vec<String>,
        /// More addresses the server answers on (repeatable).
        #[arg(long = "additional-ipaddress")]
        ip_addresses: Vec<std::net::IpAddr>,
        #[arg(long, default_value = "drover-agent-ca.pem")]
        ca: PathBuf,
        #[arg(long, default_value = "drover-agent-ca-key.pem")]
        key: PathBuf,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

const CA_FILE: &str = "drover-agent-ca.pem";
const CA_KEY_FILE: &str = "drover-agent-ca-key.pem";

/// From today (UTC) for `days` days.
fn validity(params: &mut CertificateParams, days: i64) {
    use chrono::Datelike as _;
    let at = |t: chrono::DateTime<chrono::Utc>| {
        let (m, d) = (t.month() as u8, t.day() as u8);
        rcgen::date_time_ymd(t.year(), m, d)
    };
    let today = chrono::Utc::now();
    params.not_before = at(today);
    params.not_after = at(today + chrono::Duration::days(days));
}

/// Writes `name` in `dir`, refusing to overwrite; keys are private (0600).
fn write_new(dir: &Path, name: &str, contents: &str, private: bool) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .with_context(|| format!("{}: cannot create (it may exist already)", path.display()))?;
    std::io::Write::write_all(&mut file, contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    println!("==> Wrote {}", path.display());
    Ok(path)
}

fn create_ca(dir: &Path) -> anyhow::Result<()> {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "drover agent CA");
    name.push(DnType::OrganizationName, "drover");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut params, 5 * 365);
    let key = KeyPair::generate().context("generating the CA key")?;
    let cert = params.self_signed(&key).context("signing the CA")?;
    write_new(dir, CA_FILE, &cert.pem(), false)?;
    write_new(dir, CA_KEY_FILE, &key.serialize_pem(), true)?;
    Ok(())
}

struct Kind {
    role: &'static str,
    usages: Vec<ExtendedKeyUsagePurpose>,
}

#[allow(clippy::too_many_arguments)]
fn create_cert(
    kind: Kind,
    dc: &str,
    dns_names: &[String],
    ip_addresses: &[std::net::IpAddr],
    ca: &Path,
    ca_key: &Path,
    dir: &Path,
) -> anyhow::Result<()> {
    let ca_pem = std::fs::read_to_string(ca)
        .with_context(|| format!("{}: the CA (drover tls ca create makes one)", ca.display()))?;
    let ca_key_pem = std::fs::read_to_string(ca_key)
        .with_context(|| format!("{}: the CA's key", ca_key.display()))?;
    let ca_key = KeyPair::from_pem(&ca_key_pem).context("reading the CA's key")?;
    let issuer = CertificateParams::from_ca_cert_pem(&ca_pem)
        .context("reading the CA certificate")?
        .self_signed(&ca_key)
        .context("the CA's key does not go with its certificate")?;
    let role = kind.role;
    let mut sans = vec![
        SanType::DnsName(format!("{role}.{dc}.drover").try_into()?),
        SanType::DnsName("localhost".try_into()?),
        SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])),
    ];
    for name in dns_names {
        sans.push(SanType::DnsName(name.clone().try_into()?));
    }
    for ip in ip_addresses {
        sans.push(SanType::IpAddress(*ip));
    }
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, format!("{role}.{dc}.drover"));
    params.distinguished_name = name;
    params.subject_alt_names = sans;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = kind.usages;
    validity(&mut params, 365);
    let key = KeyPair::generate().context("generating the key")?;
    let cert = params
        .signed_by(&key, &issuer, &ca_key)
        .context("signing the certificate")?;
    let base = format!("{dc}-{role}-drover");
    write_new(dir, &format!("{base}.pem"), &cert.pem(), false)?;
    write_new(dir, &format!("{base}-key.pem"), &key.serialize_pem(), true)?;
    Ok(())
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    match &args.action {
        Action::Ca(CaAction::Create { dir }) => create_ca(dir)?,
        Action::Cert(CertAction::Create {
            server,
            client,
            cli,
            dc,
            dns_names,
            ip_addresses,
            ca,
            key,
            dir,
        }) => {
            use ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
            let kind = match (server, client, cli) {
                (true, _, _) => Kind {
                    role: "server",
                    usages: vec![ServerAuth, ClientAuth],
                },
                (_, true, _) => Kind {
                    role: "client",
                    usages: vec![ServerAuth, ClientAuth],
                },
                (_, _, true) => Kind {
                    role: "cli",
                    usages: vec![ClientAuth],
                },
                _ => bail!("say which: --server, --client or --cli"),
            };
            create_cert(kind, dc, dns_names, ip_addresses, ca, key, dir)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
