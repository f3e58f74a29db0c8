// A real MCP client, the official TypeScript SDK (@modelcontextprotocol/sdk), against mcp-demo.
// Run by tests/python/mcp/mcp_client.py, which starts the OpenID Provider
// (tests/oidc/provider.mjs) and mcp-demo on 127.0.0.1.
//
// Usage: node tests/mcp/client.mjs CONFIG.json
//
// CONFIG.json:
//   {
//     "server": "http://127.0.0.1:PORT/mcp",          // mcp-demo's MCP endpoint (= its resource)
//     "issuer": "http://127.0.0.1:PORT",              // the authorization server the client trusts
//     "client_id": "...", "client_secret": "...",     // a client_credentials client there
//     "other_resource": "http://127.0.0.1/other"      // another resource at the same provider
//   }
//
// Prints one JSON line per check on stdout, {"check": "...", "ok": true|false, "detail": ...},
// and exits 1 when any check failed. The SDK's own warnings go to stderr.
//
// The flow is the SDK's: the transport meets the 401, reads `resource_metadata` from
// WWW-Authenticate, and its auth() discovers the protected resource metadata (RFC 9728) and the
// authorization server's metadata, then gets a token with the client_credentials grant for the
// resource (RFC 8707) through ClientCredentialsProvider. The same discovery steps are also run
// one by one first (SDK helpers) to check what the server publishes.
import { readFileSync } from 'node:fs';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  discoverAuthorizationServerMetadata,
  discoverOAuthProtectedResourceMetadata,
  extractWWWAuthenticateParams,
  fetchToken,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';

const configPath = process.argv[2];
if (!configPath) {
  console.error('usage: node client.mjs CONFIG.json');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const serverUrl = new URL(config.server);
const expectedMetadataUrl = `${serverUrl.origin}/.well-known/oauth-protected-resource${serverUrl.pathname}`;

let failures = 0;
function check(name, ok, detail) {
  if (!ok) failures += 1;
  process.stdout.write(`${JSON.stringify({ check: name, ok: Boolean(ok), detail: ok ? undefined : detail })}\n`);
  return Boolean(ok);
}

/** Runs one step; an exception is a failed check. Returns the step's value, or undefined. */
async function step(name, fn) {
  try {
    return await fn();
  } catch (error) {
    check(name, false, String(error?.stack || error));
    return undefined;
  }
}

function claimsOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

function scopesOf(claims) {
  return typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
}

/** A bare POST of an MCP initialize request, as a client sends its first message. */
function postInitialize(token) {
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(serverUrl, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'jwt-auth-mcp-test', version: '0.0.0' },
      },
    }),
  });
}

function credentials(scope) {
  return new ClientCredentialsProvider({
    clientId: config.client_id,
    clientSecret: config.client_secret,
    expectedIssuer: config.issuer,
    scope,
  });
}

// 1. No token: 401 with a Bearer challenge naming the metadata URL (RFC 9728 §5.1).
const challenge = await step('no token: 401 with resource_metadata', async () => {
  const res = await postInitialize();
  const params = extractWWWAuthenticateParams(res);
  const www = res.headers.get('www-authenticate');
  check('no token: 401 with resource_metadata',
    res.status === 401 && params.resourceMetadataUrl?.href === expectedMetadataUrl,
    { status: res.status, www, expected: expectedMetadataUrl });
  return params;
});

// 2. The protected resource metadata, found from that URL.
const resourceMetadata = await step('protected resource metadata', async () => {
  const prm = await discoverOAuthProtectedResourceMetadata(serverUrl, {
    resourceMetadataUrl: challenge?.resourceMetadataUrl,
  });
  check('protected resource metadata: resource, authorization_servers, scopes_supported',
    prm.resource === config.server
      && prm.authorization_servers?.includes(config.issuer)
      && prm.scopes_supported?.includes('mcp')
      && prm.bearer_methods_supported?.includes('header'),
    prm);
  return prm;
});

// 3. The authorization server it names, and its metadata.
const authorizationServer = resourceMetadata?.authorization_servers?.[0];
const asMetadata = await step('authorization server metadata', async () => {
  const metadata = await discoverAuthorizationServerMetadata(authorizationServer);
  check('authorization server metadata: issuer, token endpoint, client_credentials',
    metadata?.issuer === config.issuer
      && typeof metadata.token_endpoint === 'string'
      && metadata.grant_types_supported?.includes('client_credentials'),
    metadata);
  return metadata;
});

// 4. The SDK client end to end: connect meets the 401, auth() gets a token, tools work.
const scope = resourceMetadata?.scopes_supported?.join(' ') ?? 'mcp';
await step('SDK client with client_credentials', async () => {
  const provider = credentials(scope);
  const transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider });
  const client = new Client({ name: 'jwt-auth-mcp-test', version: '0.0.0' });
  try {
    await client.connect(transport);
    const tokens = provider.tokens();
    check('SDK client connected after its auth() got a client_credentials token',
      typeof tokens?.access_token === 'string', tokens && { ...tokens, access_token: '...' });
    const claims = claimsOf(tokens.access_token);
    check('the token is for this resource (aud), from the issuer, with scope mcp',
      claims.aud === config.server && claims.iss === config.issuer && scopesOf(claims).includes('mcp'),
      claims);

    const { tools } = await client.listTools();
    check('tools/list has whoami', tools.some((tool) => tool.name === 'whoami'),
      tools.map((tool) => tool.name));

    const result = await client.callTool({ name: 'whoami', arguments: {} });
    const text = result.content?.[0]?.text;
    const who = JSON.parse(text);
    check('whoami answers the token\'s sub and scope',
      !result.isError && who.sub === config.client_id && who.sub === claims.sub
        && who.scope === claims.scope && scopesOf(who).includes('mcp'),
      { result, claims });
  } finally {
    await client.close();
  }
});

// 5. A token for another resource at the same provider (scope mcp, wrong aud): 401.
await step('token for another audience', async () => {
  const tokens = await fetchToken(credentials('mcp'), authorizationServer, {
    metadata: asMetadata,
    resource: new URL(config.other_resource),
  });
  const claims = claimsOf(tokens.access_token);
  check('a token for another resource was issued (aud other, scope mcp)',
    claims.aud === config.other_resource && scopesOf(claims).includes('mcp'), claims);
  const res = await postInitialize(tokens.access_token);
  const www = res.headers.get('www-authenticate') || '';
  check('token for another audience: 401 invalid_token with resource_metadata',
    res.status === 401 && www.startsWith('Bearer ') && www.includes('error="invalid_token"')
      && www.includes(`resource_metadata="${expectedMetadataUrl}"`),
    { status: res.status, www });
});

// 6. A token for this resource without the scope mcp: 403 insufficient_scope, scope="mcp".
await step('token without scope mcp', async () => {
  const tokens = await fetchToken(credentials('api:read'), authorizationServer, {
    metadata: asMetadata,
    resource: new URL(config.server),
  });
  const claims = claimsOf(tokens.access_token);
  check('a token for this resource without scope mcp was issued',
    claims.aud === config.server && !scopesOf(claims).includes('mcp'), claims);
  const res = await postInitialize(tokens.access_token);
  const www = res.headers.get('www-authenticate') || '';
  check('token without scope mcp: 403 insufficient_scope, scope="mcp", resource_metadata',
    res.status === 403 && www.startsWith('Bearer ') && www.includes('error="insufficient_scope"')
      && www.includes('scope="mcp"') && www.includes(`resource_metadata="${expectedMetadataUrl}"`),
    { status: res.status, www });

  // The SDK client, configured for api:read only, tries to step up once and then gives up.
  const transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: credentials('api:read') });
  const client = new Client({ name: 'jwt-auth-mcp-test', version: '0.0.0' });
  let refused;
  try {
    await client.connect(transport);
  } catch (error) {
    refused = error;
  } finally {
    await client.close();
  }
  check('SDK client without scope mcp is refused with 403', refused?.code === 403,
    String(refused?.stack || refused || 'connected'));
});

process.exit(failures ? 1 : 0);
