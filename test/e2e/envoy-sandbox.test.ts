// Envoy's "dynamic configuration (control plane)" sandbox replayed step by step with real Envoy, the sandbox's
// control plane (examples/sandbox/main.ts, run as its own process) and the echo services service1/service2,
// all on free loopback ports: what each step of the guide shows is asserted.
import assert from 'node:assert/strict';
import { runWalkthrough, type StepResult } from '../../examples/sandbox/walkthrough.js';
import { envoyTest } from '../support/envoy.js';
import { freePort } from '../support/ports.js';

void envoyTest(
  'the sandbox guide replays: Envoy waits for the control plane, serves service1 at version "1", outlives the control plane, follows it to service2 at "2" and to a live change',
  async () => {
    const ports = { listener: await freePort(), admin: await freePort(), controlPlane: await freePort(), controlPlaneAdmin: await freePort() };
    const steps = await runWalkthrough(ports);
    const at = (n: number): StepResult => {
      const found = steps.find((s) => s.step === n);
      assert.ok(found, `step ${n} ran`);
      return found;
    };
    assert.deepEqual(
      steps.map((s) => s.step),
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    const services = at(1).facts.services ?? {};
    const service1 = services['service1'];
    const service2 = services['service2'];
    assert.ok(service1 && service2, 'both echo services started');

    // Step 2: no listener yet; only the static xds_cluster, pointing at the control plane; no dynamic cluster.
    const initial = at(2).facts;
    assert.equal(initial.listenerError, 'ECONNREFUSED');
    assert.equal(initial.servedBy, undefined);
    assert.deepEqual(initial.staticClusters, [{ name: 'xds_cluster', address: '127.0.0.1', port: ports.controlPlane }]);
    assert.deepEqual(initial.dynamicClusters, []);

    // Steps 4–5: served by service1; the cluster at version "1" with service1's endpoint.
    assert.equal(at(4).facts.servedBy, 'Request served by service1');
    assert.match(at(4).shows, /HTTP\/1\.1 GET \//);
    assert.deepEqual(at(5).facts.dynamicClusters, [{ name: 'example_proxy_cluster', version: '1', address: '127.0.0.1', port: service1 }]);

    // Step 6: control plane gone, Envoy still serves service1.
    assert.equal(at(6).facts.servedBy, 'Request served by service1');

    // Step 8: the restarted control plane (version "2", service2) is followed.
    assert.equal(at(8).facts.servedBy, 'Request served by service2');
    assert.deepEqual(at(8).facts.dynamicClusters, [{ name: 'example_proxy_cluster', version: '2', address: '127.0.0.1', port: service2 }]);

    // Step 9: a change through the control plane's admin endpoint, without restart.
    assert.equal(at(9).facts.servedBy, 'Request served by service1');
    assert.deepEqual(at(9).facts.dynamicClusters, [{ name: 'example_proxy_cluster', version: '3', address: '127.0.0.1', port: service1 }]);
  },
  { timeout: 90_000 },
);
