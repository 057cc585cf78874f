import { spawn, type ChildProcess } from "node:child_process";

/**
 * The last line of defence against orphaned servers: one small `sh` per thread, detached (so
 * a Ctrl-C to the terminal does not reach it), reading `<pid> <configFile>` lines from a pipe
 * this thread holds. When the pipe closes — this process exited in any way, even SIGKILL, or
 * this worker thread ended — it SIGKILLs every listed process whose command line still names
 * that config file (so a reused PID is never hit), then exits. It costs no polling.
 *
 * The `exit` hook in liveServers.ts covers the ordinary cases at once; this covers the rest
 * (SIGKILL of Node, worker threads that end without running `exit` listeners, such as ava's).
 */
const SCRIPT = `# berth harness watchdog: kills the listed servers when its stdin closes
trap '' HUP INT TERM
list=''
nl='
'
while IFS= read -r line; do list="$list$line$nl"; done
printf '%s' "$list" | while IFS=' ' read -r pid conf; do
  [ -n "$pid" ] || continue
  if [ -r "/proc/$pid/cmdline" ]; then
    tr '\\000' '\\n' < "/proc/$pid/cmdline" | grep -qxF -- "$conf" || continue
  else
    ps -o command= -p "$pid" 2>/dev/null | grep -qF -- "$conf" || continue
  fi
  kill -CONT -- "-$pid" 2>/dev/null
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
done
`;

let watchdog: ChildProcess | undefined;

function startWatchdog(): ChildProcess | undefined {
  try {
    const child = spawn("/bin/sh", ["-c", SCRIPT], { detached: true, stdio: ["pipe", "ignore", "ignore"] });
    child.on("error", () => {
      if (watchdog === child) watchdog = undefined;
    });
    child.on("exit", () => {
      if (watchdog === child) watchdog = undefined;
    });
    child.stdin?.on("error", () => {
      // the watchdog died; the next guard() starts a new one
    });
    child.unref();
    (child.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null)?.unref?.();
    return child;
  } catch {
    return undefined; // no /bin/sh: the exit hook still applies
  }
}

/** Has the watchdog SIGKILL `pid` when this process or thread goes away without stopping it. */
export function guardProcess(pid: number, configFile: string): void {
  if (configFile.includes("\n")) return;
  watchdog ??= startWatchdog();
  watchdog?.stdin?.write(`${pid} ${configFile}\n`);
}
