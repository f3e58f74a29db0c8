// A real OpenID Provider (panva/oidc-provider) for the remote-keys acceptance suite
// (tests/python/remote/remote_keys.py), the MCP client suite (tests/python/mcp/), the DPoP
// suite (tests/python/dpop/) and the identity-provider suite (tests/python/idp/).
// It listens on 127.0.0.1 only, over plain http.
//
// Usage: node tests/oidc/provider.mjs CONFIG.json
//
// CONFIG.json (written by the test, which also keeps the private keys so it can forge):
//   {
//     "port": 0,                                   // 0 = any free port
//     "jwks": {"keys": [private JWKs, each with "kid" and "alg"]},
//     "resources": {"http://127.0.0.1/api/rs256": "RS256", ...},   // resource URL -> signing alg,
//                  // or -> {"alg": "RS256", "scope": "mcp api:read"}: the scopes a token for
//                  // that resource may carry (default "api:read")
//     "scopes": ["mcp"],                           // optional: scopes besides openid and api:read
//     "client_id": "...", "client_secret": "...",
//     "dpop": true,                                // optional: DPoP (RFC 9449) explicitly on,
//                  // or {"require_nonce": true}: also demand a DPoP-Nonce at the token
//                  // endpoint; false: DPoP off. Absent: oidc-provider's default, as before.
//     "introspection": true,                       // optional: RFC 7662 introspection at
//                  // POST /token/introspection and RFC 7009 revocation at
//                  // POST /token/revocation (both client_secret_basic, both in the discovery
//                  // document as introspection_endpoint / revocation_endpoint). Absent or
//                  // false: both off, as before.
//     "extra_claims": {"acr": "urn:demo:mfa", "auth_time": "now-30"}
//                  // optional: claims added to every access token (oidc-provider's
//                  // extraTokenClaims): JWT claims, and members of the introspection response
//                  // of an opaque one. A string "now" or "now-N" / "now+N" becomes the epoch
//                  // seconds at issue time, N seconds before / after. A resource given as an
//                  // object may hold its own "extra_claims", merged over these (null removes).
//   }
//
// Once listening it prints exactly one line to stdout: {"issuer": "http://127.0.0.1:PORT"}.
// Everything else (oidc-provider notices, one JSON line per request served) goes to stderr.
// The client_credentials grant with a `resource` parameter (RFC 8707) issues a JWT access
// token (RFC 9068, typ at+jwt) whose aud is the resource and whose alg is resources[resource];
// its scope is the requested scope (the client may request api:read and the extra "scopes")
// narrowed to the resource's scopes.
// With "dpop" on, a token request that carries a DPoP proof (ES256, ES384, PS256, RS256,
// Ed25519/EdDSA) gets a DPoP-bound access token (token_type DPoP, cnf.jkt = the proof key's
// RFC 7638 thumbprint); the provider sends DPoP-Nonce headers (a random per-process nonce
// secret), and with require_nonce it refuses proofs without its nonce (400 use_dpop_nonce),
// as RFC 9449 §8 says.
//
// The client_credentials grant without a `resource` parameter issues an opaque access token
// (no aud; scope = the requested scope); with "introspection" on, the configured client may
// introspect it (active: true, with client_id, scope, exp, iat, iss, token_type) until it
// expires or is revoked at the revocation endpoint (then active: false).
//
// Test-only endpoint: GET /__test__/requests answers {"METHOD /path": count, ...} for every
// request served so far except itself, so a test can assert that nothing was fetched.
// SIGTERM / SIGINT: close and exit 0.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

// oidc-provider prints its NOTICEs with console.info (stdout): keep stdout for the one
// JSON line the test reads.
console.log = console.error;
console.info = console.error;

const configPath = process.argv[2];
if (!configPath) {
  console.error('usage: node provider.mjs CONFIG.json');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
// resource URL -> {alg, scope}
const resources = Object.fromEntries(Object.entries(config.resources || {}).map(
  ([url, info]) => [url, typeof info === 'string' ? { alg: info, scope: 'api:read' } : { scope: 'api:read', ...info }],
));
const scopes = ['openid', 'api:read', ...(config.scopes || [])];
const counts = Object.create(null);
// "extra_claims": top-level, then the resource's own; "now" / "now-N" / "now+N" are epoch
// seconds at issue time.
const hasExtraClaims = Boolean(config.extra_claims)
  || Object.values(resources).some((info) => info.extra_claims);
function extraClaims(token) {
  const resource = token.resourceServer?.identifier?.();
  const merged = { ...config.extra_claims, ...resources[resource]?.extra_claims };
  const now = Math.floor(Date.now() / 1000);
  const out = {};
  for (const [name, value] of Object.entries(merged)) {
    const relative = typeof value === 'string' && /^now(?:([+-])(\d+))?$/.exec(value);
    if (value === null) {
      continue;
    } else if (relative) {
      const offset = relative[2] ? Number(relative[2]) : 0;
      out[name] = relative[1] === '-' ? now - offset : now + offset;
    } else {
      out[name] = value;
    }
  }
  return Object.keys(out).length ? out : undefined;
}
// features.dPoP: untouched unless the config says (so older configs behave as before).
const dpop = config.dpop === undefined ? {} : {
  dPoP: config.dpop ? {
    enabled: true,
    nonceSecret: randomBytes(32),
    requireNonce: () => Boolean(config.dpop?.require_nonce),
  } : { enabled: false },
};

const server = http.createServer();
// Listen first so that the issuer can name the actual port.
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(config.port || 0, '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: scopes.filter((scope) => scope !== 'openid').join(' '),
  }],
  jwks: config.jwks,
  scopes,
  features: {
    // No interactive flows are used: the built-in dev interactions only emit a notice.
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // "introspection": the configured client may introspect and revoke its tokens.
    introspection: config.introspection ? {
      enabled: true,
      allowedPolicy: (ctx, client) => client.clientId === config.client_id,
    } : { enabled: false },
    revocation: config.introspection ? {
      enabled: true,
      allowedPolicy: (ctx, client, token) => client.clientId === config.client_id
        && token.clientId === client.clientId,
    } : { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo(ctx, resourceIndicator) {
        const info = resources[resourceIndicator];
        if (!info) {
          throw new errors.InvalidTarget();
        }
        return {
          scope: info.scope,
          audience: resourceIndicator,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: info.alg } },
        };
      },
    },
    ...dpop,
  },
  // "extra_claims" (and a resource's own), computed at issue time.
  ...(hasExtraClaims ? { extraTokenClaims: (ctx, token) => extraClaims(token) } : {}),
  // Every algorithm the test's keys use.
  enabledJWA: {
    idTokenSigningAlgValues: ['RS256', 'ES256', 'Ed25519', 'EdDSA'],
    // With "dpop": every proof algorithm a client library may pick.
    ...(config.dpop ? { dPoPSigningAlgValues: ['ES256', 'ES384', 'PS256', 'RS256', 'Ed25519', 'EdDSA'] } : {}),
  },
  cookies: { keys: ['remote-keys-test-cookie-key-not-a-secret'] },
});

// Plain http on loopback: oidc-provider never refuses an http issuer, it only needs to
// know the connection is not behind a TLS-terminating proxy (proxy stays false).
provider.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/__test__/requests') {
    ctx.body = { ...counts };
    return;
  }
  const key = `${ctx.method} ${ctx.path}`;
  counts[key] = (counts[key] || 0) + 1;
  try {
    await next();
  } finally {
    process.stderr.write(`${JSON.stringify({ request: key, status: ctx.status })}\n`);
  }
});

provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.on('grant.error', (ctx, err) => console.error('grant.error', err.message, err.error_description || ''));

server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer })}\n`);

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
