// A real memd daemon for the tests, started by the launcher shared with the Python and
// Go tests (tests/daemon_launcher.py, run with the repository's .venv Python): it starts
// `memd serve` on ephemeral ports and a Unix socket, prints the bound addresses as one
// JSON line, and stops the daemon (and removes its temporary directory) when its stdin
// closes.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

import type { MemdClientOptions, TlsOptions } from "../src/index";

const START_TIMEOUT_MS = 90_000;

/** The launcher's ready line (the fields the tests use). */
interface Ready {
  tcp: string;
  unix: string;
  tokens: Record<string, string>;
  ca_cert: string;
  client_cert: string;
  client_key: string;
  metrics: string;
  peers: Peer[];
}

/** One more node of the launcher's cluster (--cluster-peers). */
export interface Peer {
  node_id: string;
  tcp: string;
  pid: number;
  metrics: string;
}

export interface Daemon {
  tcp: string; // host:port
  unix: string; // unix:///path, or "" when none was reported
  tokens: Record<string, string>; // launcher --token NAME -> secret
  tls?: TlsOptions; // the CA and client certificate (PEM) when started with --tls
  metrics: string; // host:port of the daemon's Prometheus page
  peers: Peer[]; // launcher --cluster-peers: the other nodes
  log: string[]; // the daemon's log lines so far
  stop(): Promise<void>;
}

/** Client options reaching `d`: its TLS client certificate, and the token `tokenName` names. */
export function clientOptions(d: Daemon, tokenName?: string): MemdClientOptions {
  const token = tokenName === undefined ? undefined : (d.tokens[tokenName] ?? tokenName);
  return { ...(d.tls ? { tls: d.tls } : {}), ...(token === undefined ? {} : { token }) };
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
  return launch([], serveFlags);
}

/** startDaemon with launcher flags (--tls, --auth, --token NAME=GRANTS). */
export async function launch(launcherFlags: string[], serveFlags: string[] = []): Promise<Daemon> {
  const py = daemonPython();
  if (py === undefined) throw new Error("no .venv/bin/python: run `make install` at the repository root");
  const launcher = join(repoRoot(), "tests", "daemon_launcher.py");
  const child = spawn(py, [launcher, ...launcherFlags, "--", ...serveFlags], {
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
  const ready = await new Promise<Ready>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`memd was not ready in ${START_TIMEOUT_MS} ms:\n${log.join("\n")}`)), START_TIMEOUT_MS);
    createInterface({ input: child.stdout }).once("line", (line) => {
      clearTimeout(timer);
      try {
        resolveReady(JSON.parse(line) as Ready);
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
  const tls =
    ready.ca_cert === ""
      ? undefined
      : { ca: readFileSync(ready.ca_cert), cert: readFileSync(ready.client_cert), key: readFileSync(ready.client_key) };
  return { tcp: ready.tcp, unix: ready.unix, tokens: ready.tokens, tls, metrics: ready.metrics, peers: ready.peers ?? [], log, stop };
}
