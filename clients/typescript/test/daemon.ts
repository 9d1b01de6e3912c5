// A real memd daemon for the tests, started by the launcher shared with the Python and
// Go tests (tests/daemon_launcher.py, run with the repository's .venv Python): it starts
// `memd serve` on ephemeral ports and a Unix socket, prints the bound addresses as one
// JSON line, and stops the daemon (and removes its temporary directory) when its stdin
// closes.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

const START_TIMEOUT_MS = 90_000;

export interface Daemon {
  tcp: string; // host:port
  unix: string; // unix:///path, or "" when none was reported
  log: string[]; // the daemon's log lines so far
  stop(): Promise<void>;
}

/** The memd checkout holding this package (dist/test -> ../../../..). */
export function repoRoot(): string {
  return resolve(__dirname, "..", "..", "..", "..");
}

/** The Python that runs the launcher, or undefined when there is none (tests then skip). */
export function daemonPython(): string | undefined {
  const py = process.env.MEMD_TEST_PYTHON || join(repoRoot(), ".venv", "bin", "python");
  return existsSync(py) ? py : undefined;
}

/** Starts a daemon; `serveFlags` are extra `memd serve` flags (a --listen replaces the defaults). */
export async function startDaemon(...serveFlags: string[]): Promise<Daemon> {
  const py = daemonPython();
  if (py === undefined) throw new Error("no .venv/bin/python: run `make install` at the repository root");
  const child = spawn(py, [join(repoRoot(), "tests", "daemon_launcher.py"), "--", ...serveFlags], {
    cwd: repoRoot(),
    stdio: ["pipe", "pipe", "pipe"],
  });
  const log: string[] = [];
  createInterface({ input: child.stderr }).on("line", (line) => log.push(line));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin.end(); // the launcher stops the daemon gracefully
      const t = setTimeout(() => child.kill("SIGKILL"), 60_000);
      await exited;
      clearTimeout(t);
    }
  };
  const ready = await new Promise<{ tcp: string; unix: string }>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`memd was not ready in ${START_TIMEOUT_MS} ms:\n${log.join("\n")}`)), START_TIMEOUT_MS);
    createInterface({ input: child.stdout }).once("line", (line) => {
      clearTimeout(timer);
      try {
        resolveReady(JSON.parse(line) as { tcp: string; unix: string });
      } catch (e) {
        reject(new Error(`the launcher printed ${JSON.stringify(line)}: ${String(e)}`));
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      // Let the last log lines arrive before reporting them.
      setTimeout(() => reject(new Error(`memd did not start:\n${log.join("\n")}`)), 100);
    });
  }).catch(async (e: unknown) => {
    await stop();
    throw e;
  });
  return { tcp: ready.tcp, unix: ready.unix, log, stop };
}
