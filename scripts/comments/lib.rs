// Empty: this package exists only to pin envoy-types for its .proto files.
