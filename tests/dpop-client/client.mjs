// A DPoP client that nobody here wrote: oauth4webapi (panva, from npm) makes every proof.
// Run by tests/python/dpop/dpop.py, which starts the OpenID Provider (tests/oidc/provider.mjs,
// with "dpop" on) and a demo (JWT_OIDC_ISSUER = the provider, JWT_DPOP=required) on 127.0.0.1.
//
// Usage: node tests/dpop-client/client.mjs CONFIG.json
//
// CONFIG.json:
//   {
//     "issuer": "http://127.0.0.1:PORT",             // the provider
//     "client_id": "...", "client_secret": "...",    // a client_credentials client there
//     "resource": "http://127.0.0.1:PORT/",          // the demo's resource (RFC 8707 indicator)
//     "url": "http://127.0.0.1:PORT/me",             // what to call with the token
//     "alg": "ES256",                                // the client key's JWS alg (default ES256)
//     "demo_nonce": true,                            // the demo wants DPoP-Nonce (JWT_DPOP_NONCE=1)
//     "provider_nonce": true                         // the provider wants one at its token endpoint
//   }
//
// Prints one JSON line per check on stdout, {"check": "...", "ok": true|false, "detail": ...},
// and exits 1 when any check failed. The flow is the library's own: discovery, a key pair
// from generateKeyPair(alg), a DPoP handle (oauth.DPoP), the client_credentials grant with
// the handle (retried once after use_dpop_nonce when the provider wants a nonce), then
// protectedResourceRequest() with the handle (retried once after the demo's use_dpop_nonce
// challenge: the handle keeps the DPoP-Nonce it was sent).
import { webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';

import * as oauth from 'oauth4webapi';

const configPath = process.argv[2];
if (!configPath) {
  console.error('usage: node client.mjs CONFIG.json');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const insecure = { [oauth.allowInsecureRequests]: true };   // plain http on 127.0.0.1
const alg = config.alg || 'ES256';

let failures = 0;
function check(name, ok, detail) {
  if (!ok) failures += 1;
  process.stdout.write(`${JSON.stringify({ check: name, ok: Boolean(ok), detail: ok ? undefined : detail })}\n`);
  return Boolean(ok);
}

function claimsOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

function headerOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8'));
}

/** RFC 7638 thumbprint of a public key, computed here (not by the library). */
async function thumbprint(publicKey) {
  const jwk = await webcrypto.subtle.exportKey('jwk', publicKey);
  const required = { EC: ['crv', 'kty', 'x', 'y'], RSA: ['e', 'kty', 'n'], OKP: ['crv', 'kty', 'x'] }[jwk.kty];
  const canonical = JSON.stringify(Object.fromEntries(required.map((name) => [name, jwk[name]])));
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', Buffer.from(canonical))).toString('base64url');
}

/** The body and the challenge of an answer, for details. */
async function describe(response) {
  return {
    status: response.status,
    www_authenticate: response.headers.get('www-authenticate'),
    dpop_nonce: response.headers.get('dpop-nonce'),
    body: await response.clone().text(),
  };
}

/** A fetch that remembers the last request it sent (to replay it byte for byte). */
const sent = [];
async function recordingFetch(url, init) {
  const { signal: _signal, ...rest } = init;
  sent.push({ url, init: { ...rest, headers: { ...init.headers } } });
  return fetch(url, init);
}

async function main() {
  const issuer = new URL(config.issuer);
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }),
  );
  check(`discovery: the provider advertises DPoP (dpop_signing_alg_values_supported has ${alg})`,
    Array.isArray(as.dpop_signing_alg_values_supported)
      && as.dpop_signing_alg_values_supported.includes(alg), as.dpop_signing_alg_values_supported);
  const client = { client_id: config.client_id };
  const clientAuth = oauth.ClientSecretBasic(config.client_secret);
  const keyPair = await oauth.generateKeyPair(alg);
  const DPoP = oauth.DPoP(client, keyPair);
  const jkt = await thumbprint(keyPair.publicKey);

  // The token: client_credentials for the demo's resource, with a DPoP proof.
  const params = new URLSearchParams({ resource: config.resource, scope: 'api:read' });
  const grant = () => oauth.clientCredentialsGrantRequest(as, client, clientAuth, params, { DPoP, ...insecure });
  let tokens;
  let providerNonceAsked = false;
  try {
    tokens = await oauth.processClientCredentialsResponse(as, client, await grant());
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error;
    providerNonceAsked = true;
    tokens = await oauth.processClientCredentialsResponse(as, client, await grant());
  }
  check(`token endpoint: use_dpop_nonce asked first: ${providerNonceAsked} (expected ${Boolean(config.provider_nonce)})`,
    providerNonceAsked === Boolean(config.provider_nonce));
  const token = tokens.access_token;
  check('token endpoint: token_type DPoP', String(tokens.token_type).toLowerCase() === 'dpop', tokens.token_type);
  const claims = claimsOf(token);
  check('token: a JWT access token (typ at+jwt) for the resource',
    headerOf(token).typ === 'at+jwt' && (claims.aud === config.resource
      || (Array.isArray(claims.aud) && claims.aud.includes(config.resource))), { header: headerOf(token), claims });
  check('token: cnf.jkt is the RFC 7638 thumbprint of the client key', claims.cnf?.jkt === jkt,
    { cnf: claims.cnf, expected: jkt });

  // The protected resource, with the library's proofs.
  const url = new URL(config.url);
  const call = (token_, options = {}) => oauth.protectedResourceRequest(token_, 'GET', url, undefined, null,
    { DPoP, ...insecure, ...options });
  let response;
  let demoNonceAsked = false;
  try {
    response = await call(token);
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) {
      check('GET /me with DPoP: 200 (or first a use_dpop_nonce challenge)', false,
        error instanceof oauth.WWWAuthenticateChallengeError ? await describe(error.response) : String(error?.stack || error));
      return;
    }
    demoNonceAsked = true;
    check('GET /me without a nonce: 401 with a DPoP-Nonce header',
      error.status === 401 && Boolean(error.response.headers.get('dpop-nonce')), await describe(error.response));
    response = await call(token);
  }
  check(`GET /me: use_dpop_nonce asked first: ${demoNonceAsked} (expected ${Boolean(config.demo_nonce)})`,
    demoNonceAsked === Boolean(config.demo_nonce));
  const body = await response.clone().json().catch(() => null);
  check('GET /me with DPoP: 200 with the token\'s claims, cnf.jkt included',
    response.status === 200 && body?.sub === claims.sub && body?.cnf?.jkt === jkt, await describe(response));

  // A second request: a fresh proof (new jti) from the library, 200 again.
  const again = await call(token, { [oauth.customFetch]: recordingFetch });
  check('GET /me again with a fresh proof: 200', again.status === 200, await describe(again));

  // The same request replayed byte for byte (same proof, same jti): refused.
  const last = sent.at(-1);
  const replay = await fetch(last.url, last.init);
  check('the same request replayed (same proof): 401 DPoP error="invalid_dpop_proof"',
    replay.status === 401 && /DPoP[^]*error="invalid_dpop_proof"/.test(replay.headers.get('www-authenticate') || ''),
    await describe(replay));

  // The token with proofs of another key pair (also the library's): thumbprint mismatch.
  const stranger = oauth.DPoP(client, await oauth.generateKeyPair(alg));
  try {
    const other = await call(token, { DPoP: stranger });
    check('GET /me with a proof by another key: 401 invalid_dpop_proof', false, await describe(other));
  } catch (error) {
    if (oauth.isDPoPNonceError(error)) {
      // The stranger's handle has no nonce yet: it gets one, then its proof is refused.
      try {
        const other = await call(token, { DPoP: stranger });
        check('GET /me with a proof by another key: 401 invalid_dpop_proof', false, await describe(other));
      } catch (second) {
        check('GET /me with a proof by another key: 401 invalid_dpop_proof',
          second instanceof oauth.WWWAuthenticateChallengeError && second.status === 401
            && second.cause.some((c) => c.scheme === 'dpop' && c.parameters.error === 'invalid_dpop_proof'),
          second.response ? await describe(second.response) : String(second?.stack || second));
      }
    } else {
      check('GET /me with a proof by another key: 401 invalid_dpop_proof',
        error instanceof oauth.WWWAuthenticateChallengeError && error.status === 401
          && error.cause.some((c) => c.scheme === 'dpop' && c.parameters.error === 'invalid_dpop_proof'),
        error.response ? await describe(error.response) : String(error?.stack || error));
    }
  }

  // The same token as a Bearer token (no DPoP handle: the library sends Bearer): 401.
  try {
    const bearer = await oauth.protectedResourceRequest(token, 'GET', url, undefined, null, insecure);
    check('the same token as Bearer: 401 invalid_token', false, await describe(bearer));
  } catch (error) {
    const challenges = error instanceof oauth.WWWAuthenticateChallengeError ? error.cause : [];
    check('the same token as Bearer: 401 Bearer error="invalid_token"',
      error.status === 401 && challenges.some((c) => c.scheme === 'bearer' && c.parameters.error === 'invalid_token'),
      error.response ? await describe(error.response) : String(error?.stack || error));
  }
}

try {
  await main();
} catch (error) {
  check('the DPoP client flow ran to its end', false, String(error?.stack || error)
    + (error?.cause ? ` cause: ${JSON.stringify(error.cause)}` : ''));
}
process.exit(failures ? 1 : 0);
