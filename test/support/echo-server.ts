/**
 * HTTP echo server for tests, the same one the sandbox runs as service1/service2
 * (`examples/sandbox/echo/server.mjs`), so tests and the sandbox check the same reply format.
 *
 * @module
 */
export {
  createEchoServer,
  echoText,
  startEchoServer,
  type EchoServer,
  type EchoServerOptions,
} from '../../examples/sandbox/echo/server.mjs';
