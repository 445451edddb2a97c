import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TagProducer, TagNames as N, TagConfigError, regexPrefixToken, type Tag } from '../../src/stats/tag_extractor';

const producer = new TagProducer();

function check(name: string, extracted: string, tags: Array<[string, string]>): void {
  const r = producer.produceTags(name);
  assert.equal(r.extractedName, extracted, name);
  const key = (t: Tag) => `${t.name}=${t.value}`;
  assert.deepEqual(r.tags.map(key).sort(), tags.map(([n, v]) => `${n}=${v}`).sort(), name);
}

// Cases from Envoy's test/common/stats/tag_extractor_impl_test.cc (DefaultTagExtractors).
test('default extractors: cluster, listener address, ssl', () => {
  check('cluster.ratelimit.upstream_rq_timeout', 'cluster.upstream_rq_timeout', [[N.CLUSTER_NAME, 'ratelimit']]);
  check('listener.[__1]_0.ssl.ciphers.AES256-SHA', 'listener.ssl.ciphers', [[N.LISTENER_ADDRESS, '[__1]_0'], [N.SSL_CIPHER, 'AES256-SHA']]);
  check('cluster.ratelimit.ssl.ciphers.ECDHE-RSA-AES128-GCM-SHA256', 'cluster.ssl.ciphers',
    [[N.CLUSTER_NAME, 'ratelimit'], [N.SSL_CIPHER_SUITE, 'ECDHE-RSA-AES128-GCM-SHA256']]);
  check('listener.[2001_0db8_85a3_0000_0000_8a2e_0370_7334]_3543.ssl.ciphers.AES256-SHA', 'listener.ssl.ciphers',
    [[N.LISTENER_ADDRESS, '[2001_0db8_85a3_0000_0000_8a2e_0370_7334]_3543'], [N.SSL_CIPHER, 'AES256-SHA']]);
  check('listener.127.0.0.1_0.ssl.ciphers.AES256-SHA', 'listener.ssl.ciphers', [[N.LISTENER_ADDRESS, '127.0.0.1_0'], [N.SSL_CIPHER, 'AES256-SHA']]);
  check('listener.my_prefix.ssl.ciphers.AES256-SHA', 'listener.ssl.ciphers', [[N.LISTENER_ADDRESS, 'my_prefix'], [N.SSL_CIPHER, 'AES256-SHA']]);
  check('listener.prefix.notmatching.ssl.ciphers.AES256-SHA', 'listener.notmatching.ssl.ciphers', [[N.LISTENER_ADDRESS, 'prefix'], [N.SSL_CIPHER, 'AES256-SHA']]);
  check('listener.admin.ssl.ciphers.AES256-SHA', 'listener.admin.ssl.ciphers', [[N.SSL_CIPHER, 'AES256-SHA']]);
  check('cluster.cluster_0.ssl.versions.TLSv1.2', 'cluster.ssl.versions', [[N.CLUSTER_NAME, 'cluster_0'], [N.SSL_VERSION, 'TLSv1.2']]);
  check('cluster.cluster_0.ssl.curves.P-256', 'cluster.ssl.curves', [[N.CLUSTER_NAME, 'cluster_0'], [N.SSL_CURVE, 'P-256']]);
  check('listener.127.0.0.1_443.ssl.sigalgs.rsa_pss_rsae_sha256', 'listener.ssl.sigalgs',
    [[N.LISTENER_ADDRESS, '127.0.0.1_443'], [N.SSL_SIGALG, 'rsa_pss_rsae_sha256']]);
});

test('default extractors: mongo, ratelimit, dynamo, grpc bridge', () => {
  check('mongo.mongo_filter.op_reply', 'mongo.op_reply', [[N.MONGO_PREFIX, 'mongo_filter']]);
  check('mongo.mongo_filter.cmd.foo_cmd.reply_size', 'mongo.cmd.reply_size', [[N.MONGO_PREFIX, 'mongo_filter'], [N.MONGO_CMD, 'foo_cmd']]);
  check('mongo.mongo_filter.collection.bar_collection.query.multi_get', 'mongo.collection.query.multi_get',
    [[N.MONGO_PREFIX, 'mongo_filter'], [N.MONGO_COLLECTION, 'bar_collection']]);
  check('mongo.mongo_filter.collection.bar_collection.callsite.baz_callsite.query.scatter_get', 'mongo.collection.callsite.query.scatter_get',
    [[N.MONGO_PREFIX, 'mongo_filter'], [N.MONGO_COLLECTION, 'bar_collection'], [N.MONGO_CALLSITE, 'baz_callsite']]);
  check('ratelimit.foo_ratelimiter.over_limit', 'ratelimit.over_limit', [[N.RATELIMIT_PREFIX, 'foo_ratelimiter']]);
  check('foo_ratelimiter.http_local_rate_limit.ok', 'http_local_rate_limit.ok', [[N.LOCAL_HTTP_RATELIMIT_PREFIX, 'foo_ratelimiter']]);
  check('local_rate_limit.foo_ratelimiter.rate_limited', 'local_rate_limit.rate_limited', [[N.LOCAL_NETWORK_RATELIMIT_PREFIX, 'foo_ratelimiter']]);
  const hcm: [string, string] = [N.HTTP_CONN_MANAGER_PREFIX, 'egress_dynamodb_iad'];
  check('http.egress_dynamodb_iad.downstream_cx_total', 'http.downstream_cx_total', [hcm]);
  check('http.egress_dynamodb_iad.dynamodb.operation.Query.upstream_rq_time', 'http.dynamodb.operation.upstream_rq_time', [hcm, [N.DYNAMO_OPERATION, 'Query']]);
  check('http.egress_dynamodb_iad.dynamodb.table.bar_table.upstream_rq_time', 'http.dynamodb.table.upstream_rq_time', [hcm, [N.DYNAMO_TABLE, 'bar_table']]);
  check('http.egress_dynamodb_iad.dynamodb.table.bar_table.capacity.Query.__partition_id=ABC1234', 'http.dynamodb.table.capacity',
    [hcm, [N.DYNAMO_TABLE, 'bar_table'], [N.DYNAMO_OPERATION, 'Query'], [N.DYNAMO_PARTITION_ID, 'ABC1234']]);
  check('cluster.grpc_cluster.grpc.grpc_service_1.grpc_method_1.success', 'cluster.grpc.success',
    [[N.CLUSTER_NAME, 'grpc_cluster'], [N.GRPC_BRIDGE_METHOD, 'grpc_method_1'], [N.GRPC_BRIDGE_SERVICE, 'grpc_service_1']]);
});

test('default extractors: vhost, response codes, listener http prefix, user agent, tcp/udp, fault, rds', () => {
  check('vhost.vhost_1.vcluster.vcluster_1.upstream_rq_2xx', 'vhost.vcluster.upstream_rq_xx',
    [[N.VIRTUAL_HOST, 'vhost_1'], [N.VIRTUAL_CLUSTER, 'vcluster_1'], [N.RESPONSE_CODE_CLASS, '2']]);
  check('vhost.vhost_1.vcluster.vcluster_1.upstream_rq_200', 'vhost.vcluster.upstream_rq',
    [[N.VIRTUAL_HOST, 'vhost_1'], [N.VIRTUAL_CLUSTER, 'vcluster_1'], [N.RESPONSE_CODE, '200']]);
  check('listener.127.0.0.1_3012.http.http_prefix.downstream_rq_5xx', 'listener.http.downstream_rq_xx',
    [[N.HTTP_CONN_MANAGER_PREFIX, 'http_prefix'], [N.LISTENER_ADDRESS, '127.0.0.1_3012'], [N.RESPONSE_CODE_CLASS, '5']]);
  check('http.egress_dynamodb_iad.user_agent.ios.downstream_cx_total', 'http.user_agent.downstream_cx_total',
    [[N.HTTP_USER_AGENT, 'ios'], [N.HTTP_CONN_MANAGER_PREFIX, 'egress_dynamodb_iad']]);
  check('auth.clientssl.clientssl_prefix.auth_ip_allowlist', 'auth.clientssl.auth_ip_allowlist', [[N.CLIENTSSL_PREFIX, 'clientssl_prefix']]);
  check('tcp.tcp_prefix.downstream_flow_control_resumed_reading_total', 'tcp.downstream_flow_control_resumed_reading_total', [[N.TCP_PREFIX, 'tcp_prefix']]);
  check('udp.udp_prefix.downstream_flow_control_resumed_reading_total', 'udp.downstream_flow_control_resumed_reading_total', [[N.UDP_PREFIX, 'udp_prefix']]);
  check('http.fault_connection_manager.fault.fault_cluster.aborts_injected', 'http.fault.aborts_injected',
    [[N.HTTP_CONN_MANAGER_PREFIX, 'fault_connection_manager'], [N.FAULT_DOWNSTREAM_CLUSTER, 'fault_cluster']]);
  check('http.rds_connection_manager.rds.agg/route_config.1-23.update_success', 'http.rds.update_success',
    [[N.HTTP_CONN_MANAGER_PREFIX, 'rds_connection_manager'], [N.RDS_ROUTE_CONFIG, 'agg/route_config.1-23']]);
  check('http.scoped_rds_connection_manager.scoped_rds.scoped_route_config.123.update_success', 'http.scoped_rds.update_success',
    [[N.HTTP_CONN_MANAGER_PREFIX, 'scoped_rds_connection_manager'], [N.SCOPED_RDS_CONFIG, 'scoped_route_config.123']]);
});

test('default extractors: worker ids, thrift, redis, dns, connection limit, rbac, proxy protocol, ext_authz', () => {
  check('listener_manager.worker_123.dispatcher.loop_duration_us', 'listener_manager.worker_dispatcher.loop_duration_us', [[N.WORKER_ID, '123']]);
  check('listener.127.0.0.1_3012.worker_123.downstream_cx_active', 'listener.worker_downstream_cx_active', [[N.LISTENER_ADDRESS, '127.0.0.1_3012'], [N.WORKER_ID, '123']]);
  check('listener.myprefix.worker_123.downstream_cx_active', 'listener.worker_downstream_cx_active', [[N.LISTENER_ADDRESS, 'myprefix'], [N.WORKER_ID, '123']]);
  check('server.worker_123.watchdog_miss', 'server.worker_watchdog_miss', [[N.WORKER_ID, '123']]);
  check('thrift.thrift_prefix.response', 'thrift.response', [[N.THRIFT_PREFIX, 'thrift_prefix']]);
  check('redis.my_redis_prefix.response', 'redis.response', [[N.REDIS_PREFIX, 'my_redis_prefix']]);
  check('dns_filter.my_dns_prefix.local_a_record_answers', 'dns_filter.local_a_record_answers', [[N.DNS_FILTER_PREFIX, 'my_dns_prefix']]);
  check('connection_limit.my_connection_limit_prefix.limited_connections', 'connection_limit.limited_connections', [[N.CONNECTION_LIMIT_PREFIX, 'my_connection_limit_prefix']]);
  check('my_rbac_prefix.rbac.allowed', 'rbac.allowed', [[N.RBAC_PREFIX, 'my_rbac_prefix']]);
  const hcm: [string, string] = [N.HTTP_CONN_MANAGER_PREFIX, 'hcm_prefix'];
  check('http.hcm_prefix.rbac.prefix.allowed', 'http.rbac.allowed', [hcm, [N.RBAC_HTTP_PREFIX, 'prefix']]);
  check('http.hcm_prefix.rbac.policy.my_rbac_policy.allowed', 'http.rbac.policy.allowed', [hcm, [N.RBAC_POLICY_NAME, 'my_rbac_policy']]);
  check('http.hcm_prefix.rbac.policy.my_rbac_policy.denied', 'http.rbac.policy.denied', [hcm, [N.RBAC_POLICY_NAME, 'my_rbac_policy']]);
  check('http.hcm_prefix.rbac.prefix.policy.my_rbac_policy.shadow_allowed', 'http.rbac.policy.shadow_allowed',
    [hcm, [N.RBAC_HTTP_PREFIX, 'prefix'], [N.RBAC_POLICY_NAME, 'my_rbac_policy']]);
  check('proxy_proto.not_found_disallowed', 'proxy_proto.not_found_disallowed', []);
  check('proxy_proto.test_stat_prefix.not_found_disallowed', 'proxy_proto.not_found_disallowed', [[N.PROXY_PROTOCOL_PREFIX, 'test_stat_prefix']]);
  check('proxy_proto.versions.v2.error', 'proxy_proto.error', [[N.PROXY_PROTOCOL_VERSION, '2']]);
  check('proxy_proto.test_stat_prefix.versions.v2.error', 'proxy_proto.error', [[N.PROXY_PROTOCOL_PREFIX, 'test_stat_prefix'], [N.PROXY_PROTOCOL_VERSION, '2']]);
  check('http.http_prefix.ext_authz.authpfx.denied', 'http.ext_authz.denied', [[N.HTTP_CONN_MANAGER_PREFIX, 'http_prefix'], [N.EXT_AUTHZ_PREFIX, 'authpfx']]);
  check('cluster.grpc_cluster.ext_authz.authpfx.ok', 'cluster.ext_authz.ok', [[N.CLUSTER_NAME, 'grpc_cluster'], [N.EXT_AUTHZ_PREFIX, 'authpfx']]);
});

test('tags are ordered like Envoy: unprefixed extractors first, then those keyed by the first token', () => {
  const r = producer.produceTags('cluster.foo.upstream_rq_200');
  assert.deepEqual(r.tags, [{ name: N.RESPONSE_CODE, value: '200' }, { name: N.CLUSTER_NAME, value: 'foo' }]);
  const l = producer.produceTags('listener.0.0.0.0_15001.http.inbound_http.downstream_rq_2xx');
  assert.equal(l.extractedName, 'listener.http.downstream_rq_xx');
  assert.deepEqual(l.tags.map((t) => t.name), [N.RESPONSE_CODE_CLASS, N.HTTP_CONN_MANAGER_PREFIX, N.LISTENER_ADDRESS]);
  assert.deepEqual(l.tags.map((t) => t.value), ['2', 'inbound_http', '0.0.0.0_15001']);
  // A dotted HCM stat_prefix leaves residue, exactly as with Envoy's default extractors.
  assert.equal(producer.produceTags('http.outbound_0.0.0.0_80.downstream_rq_total').extractedName, 'http.0.0.0_80.downstream_rq_total');
});

test('names without tags pass through', () => {
  check('server.live', 'server.live', []);
  check('cluster_manager.active_clusters', 'cluster_manager.active_clusters', []);
  check('cluster.x', 'cluster.x', []);
  check('', '', []);
  check('...', '...', []);
});

test('regex prefix tokens follow extractRegexPrefix', () => {
  assert.equal(regexPrefixToken('^prefix(foo).'), '');
  assert.equal(regexPrefixToken('^prefix\\.foo'), 'prefix');
  assert.equal(regexPrefixToken('^prefix_optional(?=\\.)'), 'prefix_optional');
  assert.equal(regexPrefixToken('^notACompleteToken'), '');
  assert.equal(regexPrefixToken('^onlyToken$'), 'onlyToken');
  assert.equal(regexPrefixToken('(prefix)'), '');
  assert.equal(regexPrefixToken('^(prefix)'), '');
});

test('custom stats_tags (Istio bootstrap) with use_all_default_tags: false', () => {
  const istio = new TagProducer({
    use_all_default_tags: false,
    stats_tags: [
      { tag_name: 'cluster_name', regex: '^cluster(\\.(.+);)' },
      { tag_name: 'http_conn_manager_prefix', regex: '^http\\.(((?:[_.[:digit:]\\w]*|[_\\[\\]aAbBcCdDeEfF[:digit:]\\w\\:]*));\\.)' },
      { regex: '_rq(_(\\d{3}))$', tag_name: 'response_code' },
      { tag_name: 'response_code_class', regex: '_rq(_(\\dxx))$' },
      { tag_name: 'listener_address', regex: '^listener\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)' },
      { tag_name: 'mesh', fixed_value: 'cluster.local' },
    ],
  });
  const c = istio.produceTags('cluster.outbound|9080||reviews.default.svc.cluster.local;.upstream_rq_200');
  assert.equal(c.extractedName, 'cluster.upstream_rq');
  // Tags come in stats_tags order (none of these regexes has a prefix token).
  assert.deepEqual(c.tags, [
    { name: 'cluster_name', value: 'outbound|9080||reviews.default.svc.cluster.local' },
    { name: 'response_code', value: '200' },
    { name: 'mesh', value: 'cluster.local' },
  ]);
  const h = istio.produceTags('http.10.0.0.1_8080;.downstream_rq_2xx');
  assert.equal(h.extractedName, 'http.downstream_rq');
  // '^http\\.' has the prefix token "http", so that extractor runs after the unprefixed ones.
  assert.deepEqual(h.tags, [
    { name: 'response_code_class', value: '2xx' },
    { name: 'mesh', value: 'cluster.local' },
    { name: 'http_conn_manager_prefix', value: '10.0.0.1_8080' },
  ]);
  // No default extractors: a plain cluster stat keeps its name.
  assert.equal(istio.produceTags('cluster.xds-grpc.upstream_cx_total').extractedName, 'cluster.xds-grpc.upstream_cx_total');
  assert.deepEqual(istio.fixedTags, [{ name: 'mesh', value: 'cluster.local' }]);
});

test('stats_tags naming a default tag without regex adds the default extractors; errors name the field', () => {
  const p = new TagProducer({ use_all_default_tags: false, stats_tags: [{ tag_name: N.CLUSTER_NAME }] });
  assert.equal(p.produceTags('cluster.a.b').extractedName, 'cluster.b');
  assert.equal(p.produceTags('http.a.b').extractedName, 'http.a.b');
  assert.throws(() => new TagProducer({ stats_tags: [{ tag_name: 'nope' }] }),
    (e: unknown) => e instanceof TagConfigError && /stats_config\.stats_tags\[0\]/.test(e.message) && /no default regex for name: 'nope'/.test(e.message));
  assert.throws(() => new TagProducer({ stats_tags: [{ tag_name: 'x', regex: '(' }] }),
    (e: unknown) => e instanceof TagConfigError && /stats_config\.stats_tags\[0\]\.regex/.test(e.message));
  assert.throws(() => new TagProducer({ stats_tags: [{ regex: 'a(b)' }] }), /tag_name cannot be empty/);
});

test('cli tags are fixed tags on every stat', () => {
  const p = new TagProducer({}, [{ name: 'node', value: 'n1' }]);
  const r = p.produceTags('cluster.a.upstream_cx_total');
  assert.deepEqual(r.tags, [{ name: 'node', value: 'n1' }, { name: N.CLUSTER_NAME, value: 'a' }]);
});
