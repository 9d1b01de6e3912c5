// Channel credentials, options and interceptors from MemdClientOptions' token and tls.
import {
  credentials as grpcCredentials,
  InterceptingCall,
  Metadata,
  type ChannelCredentials,
  type ChannelOptions,
  type Interceptor,
} from "@grpc/grpc-js";

import type { MemdClientOptions } from "./client";

/** Whether `target` is a Unix socket or a loopback address (localhost, 127/8, ::1). */
export function isLocalTarget(target: string): boolean {
  if (target.startsWith("unix")) return true;
  const address = target.replace(/^(dns:\/\/\/|ipv4:|ipv6:)/, "");
  const bracketed = /^\[([^\]]*)\]/.exec(address);
  const host = bracketed ? bracketed[1]! : address.split(":").length === 2 ? address.split(":")[0]! : address;
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

function bearer(token: string): string {
  if (token === "" || /[\s\x00-\x1f\x7f]/.test(token)) {
    throw new TypeError("token must be non-empty printable text without spaces");
  }
  return `Bearer ${token}`;
}

/**
 * How a client reaches its target. Over TLS the token rides as call credentials, which
 * grpc-js sends only on secure channels. grpc-js refuses call credentials on an
 * insecure channel, so in the clear an interceptor adds the header, and only to a
 * loopback address or a Unix socket (a sidecar on the same host): the constructor
 * throws for any other plaintext target rather than send the token over a network.
 */
export function channelSecurity(
  target: string,
  options: MemdClientOptions,
): { credentials: ChannelCredentials; channelOptions: ChannelOptions; interceptors: Interceptor[] } {
  const channelOptions: ChannelOptions = {};
  let credentials = options.credentials;
  if (options.tls !== undefined) {
    if (credentials !== undefined) throw new TypeError("give either credentials or tls, not both");
    const tls = options.tls === true ? {} : options.tls;
    if ((tls.cert === undefined) !== (tls.key === undefined)) {
      throw new TypeError("tls.cert and tls.key go together (mutual TLS)");
    }
    const pem = (v: string | Buffer | undefined) => (v === undefined ? null : Buffer.from(v));
    credentials = grpcCredentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert));
    if (tls.serverName !== undefined) channelOptions["grpc.ssl_target_name_override"] = tls.serverName;
  }
  if (options.token === undefined) {
    return { credentials: credentials ?? grpcCredentials.createInsecure(), channelOptions, interceptors: [] };
  }
  const header = bearer(options.token);
  if (credentials !== undefined && credentials._isSecure()) {
    const call = grpcCredentials.createFromMetadataGenerator((_params, callback) => {
      const md = new Metadata();
      md.set("authorization", header);
      callback(null, md);
    });
    return { credentials: grpcCredentials.combineChannelCredentials(credentials, call), channelOptions, interceptors: [] };
  }
  if (!isLocalTarget(target)) {
    throw new TypeError(
      `a token is sent in the clear only to a loopback address or a Unix socket, not ${JSON.stringify(target)}: use tls`,
    );
  }
  const addToken: Interceptor = (opts, nextCall) =>
    new InterceptingCall(nextCall(opts), {
      start(metadata, listener, next) {
        metadata.set("authorization", header);
        next(metadata, listener);
      },
    });
  return { credentials: credentials ?? grpcCredentials.createInsecure(), channelOptions, interceptors: [addToken] };
}
