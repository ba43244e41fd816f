//! An S3-compatible server for tests: moto's `moto_server` (installed into .venv by
//! scripts/setup-python.sh, or `$MOTO_SERVER`) on a free loopback port, and replicas of
//! the real binary sharing one `s3://` store on it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{http, modeld, wait_ready, Guard};

/// A running moto server, killed when dropped.
pub struct Moto {
    _guard: Guard,
    pub addr: String,
}

fn moto_server() -> PathBuf {
    match std::env::var_os("MOTO_SERVER") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server"),
    }
}

impl Moto {
    /// Starts moto, or returns `None` after a loud SKIP when it is not installed; with
    /// `REQUIRE_INTEROP=1` (CI) a missing moto fails the test instead.
    pub fn start_or_skip() -> Option<Moto> {
        let bin = moto_server();
        if !bin.is_file() {
            let why = format!("{} not found", bin.display());
            if std::env::var("REQUIRE_INTEROP").as_deref() == Ok("1") {
                panic!("moto required (REQUIRE_INTEROP=1) but {why}; run scripts/setup-python.sh");
            }
            eprintln!(
                "\n!!!!!!!! SKIPPED S3 store test: {why}\n!!!!!!!! run scripts/setup-python.sh \
                 (or set MOTO_SERVER) to enable it\n"
            );
            return None;
        }
        let port = super::free_port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        let moto = Moto {
            _guard: Guard(child),
            addr: format!("127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while http(&moto.addr, "GET", "/moto-api/", None).0 == 0 {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    /// Runs `script` with boto3's client for this server as `s3` and the arguments as
    /// `argv`; returns its standard output. The test's own hands on the bucket, so the
    /// bucket is made and objects are read and planted without modeld.
    fn boto3(&self, script: &str, args: &[&str]) -> String {
        let python = moto_server().with_file_name("python");
        let prelude = format!(
            "import sys, boto3\nargv = sys.argv[1:]\ns3 = boto3.client('s3', \
             endpoint_url='http://{}', region_name='us-east-1', \
             aws_access_key_id='test', aws_secret_access_key='test')\n",
            self.addr
        );
        let out = Command::new(&python)
            .arg("-c")
            .arg(prelude + script)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
        assert!(
            out.status.success(),
            "boto3 script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn create_bucket(&self, bucket: &str) {
        self.boto3("s3.create_bucket(Bucket=argv[0])", &[bucket]);
    }

    /// Writes an object directly (as another tool, or a crashed writer, would).
    pub fn put_object(&self, bucket: &str, key: &str, body: &str) {
        self.boto3(
            "s3.put_object(Bucket=argv[0], Key=argv[1], Body=argv[2].encode())",
            &[bucket, key, body],
        );
    }

    /// Reads an object directly; `None` unless it exists.
    pub fn get_object(&self, bucket: &str, key: &str) -> Option<String> {
        let script = "try:\n    sys.stdout.write('+' + s3.get_object(Bucket=argv[0], \
                      Key=argv[1])['Body'].read().decode())\nexcept s3.exceptions.NoSuchKey:\n    pass";
        self.boto3(script, &[bucket, key])
            .strip_prefix('+')
            .map(str::to_string)
    }

    /// The keys under `prefix`, sorted.
    pub fn list_objects(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let script = "for o in s3.list_objects_v2(Bucket=argv[0], Prefix=argv[1]).get('Contents', []):\n    print(o['Key'])";
        let mut keys: Vec<String> = self
            .boto3(script, &[bucket, prefix])
            .lines()
            .map(str::to_string)
            .collect();
        keys.sort();
        keys
    }

    /// The real binary on `uri` with moto's endpoint and dummy credentials, polling
    /// every `poll_ms`.
    pub fn replica(&self, dir: &Path, uri: &str, poll_ms: u64) -> Command {
        let mut cmd = modeld(dir);
        cmd.args(["--host", "127.0.0.1", "--port", "0"])
            .env("MODELD_STORE__URI", uri)
            .env("MODELD_REPOSITORY__POLL_INTERVAL_MS", poll_ms.to_string())
            .env("AWS_ACCESS_KEY_ID", "modeld-test-key")
            .env("AWS_SECRET_ACCESS_KEY", "modeld-test-secret")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", format!("http://{}", self.addr));
        cmd
    }
}

/// A replica: the process, its address and everything it logged.
pub struct Replica {
    pub guard: Guard,
    pub addr: String,
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Replica {
    pub fn start(mut cmd: Command) -> Replica {
        let mut child = cmd.spawn().unwrap();
        let log = super::collect_output(&mut child);
        let guard = Guard(child);
        let addr = super::listening_addr(&log);
        wait_ready(&addr);
        Replica { guard, addr, log }
    }
}
