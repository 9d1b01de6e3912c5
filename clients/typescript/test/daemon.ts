// A real `python -m memd serve` for the tests, started like clients/go/daemon_test.go
// and tests/server/daemon.py: ephemeral ports, JSON logs on stderr, and the bound
// addresses read from the "listening" event.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

const START_TIMEOUT_MS = 60_000;

export interface Daemon {
  tcp: string; // host:port
  unix: string; // unix:///path, or "" when none was reported
  log: string[];
  stop(): Promise<void>;
}

/** The memd checkout holding this package (dist/test -> ../../../..). */
export function repoRoot(): string {
  return resolve(__dirname, "..", "..", "..", "..");
}

/** The Python that runs the daemon, or undefined when there is none (tests then skip). */
export function daemonPython(): string | undefined {
  const py = process.env.MEMD_TEST_PYTHON || join(repoRoot(), ".venv", "bin", "python");
  return existsSync(py) ? py : undefined;
}

export async function startDaemon(): Promise<Daemon> {
  const py = daemonPython();
  if (py === undefined) throw new Error("no .venv/bin/python: run `make install` at the repository root");
  const dir = mkdtempSync(join(tmpdir(), "memd-ts-test-"));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("MEMD_")) env[k] = v;
  const child: ChildProcess = spawn(
    py,
    ["-m", "memd", "serve", "--data-dir", join(dir, "data"), "--listen", "127.0.0.1:0",
      "--listen", "unix://" + join(dir, "memd.sock"), "--metrics-listen", "off", "--log-format", "json"],
    { cwd: repoRoot(), env, stdio: ["ignore", "ignore", "pipe"] },
  );
  const log: string[] = [];
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const addrs = await new Promise<string[]>((resolveAddrs, reject) => {
    const timer = setTimeout(() => reject(new Error(`memd did not log "listening" in ${START_TIMEOUT_MS} ms:\n${log.join("\n")}`)), START_TIMEOUT_MS);
    createInterface({ input: child.stderr! }).on("line", (line) => {
      log.push(line);
      try {
        const ev = JSON.parse(line) as { event?: string; grpc?: string[] };
        if (ev.event === "listening") {
          clearTimeout(timer);
          resolveAddrs(ev.grpc ?? []);
        }
      } catch {
        // not JSON
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`memd exited before listening:\n${log.join("\n")}`));
    });
  }).catch(async (e: unknown) => {
    await stop();
    throw e;
  });
  const d: Daemon = { tcp: "", unix: "", log, stop };
  for (const a of addrs) {
    if (a.startsWith("unix:")) d.unix = a;
    else d.tcp = a;
  }
  return d;
}
