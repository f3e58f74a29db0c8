//! What the `tonic-demo` server and its tests share: the
//! `jwtauth.demo.v1.Demo` messages, client and server stubs, the descriptor
//! that the reflection service serves, and the start-up banner.
//!
//! The service, in protobuf terms (this crate builds it without `protoc`:
//! the messages below are hand-written prost types, `build.rs` generates the
//! stubs with `tonic_build::manual`, and [`proto::file_descriptor_set`]
//! describes the same thing to reflection clients such as `grpcurl`):
//!
//! ```proto
//! syntax = "proto3";
//! package jwtauth.demo.v1;
//!
//! service Demo {
//!   // Every verified claim, as a JSON object, exactly as in the token.
//!   rpc Me(MeRequest) returns (JsonReply);
//!   // Requires "admin" in the `roles` claim (else PERMISSION_DENIED):
//!   // {"admin":true,"sub":...}, as the HTTP demos' GET /admin.
//!   rpc Admin(AdminRequest) returns (JsonReply);
//! }
//!
//! message MeRequest {}
//! message AdminRequest {}
//! message JsonReply { string json = 1; }
//! ```

/// The `jwtauth.demo.v1` package: messages, generated stubs, descriptor.
pub mod proto {
    use prost_types::field_descriptor_proto::{Label, Type};
    use prost_types::{
        DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
        MethodDescriptorProto, ServiceDescriptorProto,
    };

    /// The protobuf package.
    pub const PACKAGE: &str = "jwtauth.demo.v1";

    /// The request of `Me`: empty.
    #[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
    pub struct MeRequest {}

    /// The request of `Admin`: empty.
    #[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
    pub struct AdminRequest {}

    /// The reply of both methods: a JSON document.
    #[derive(Clone, PartialEq, Eq, prost::Message)]
    pub struct JsonReply {
        /// The JSON text.
        #[prost(string, tag = "1")]
        pub json: String,
    }

    include!(concat!(env!("OUT_DIR"), "/jwtauth.demo.v1.Demo.rs"));

    /// The descriptor of `demo.proto` (the messages above and the `Demo`
    /// service), for the reflection service.
    pub fn file_descriptor_set() -> FileDescriptorSet {
        let message = |name: &str, field: Vec<FieldDescriptorProto>| DescriptorProto {
            name: Some(name.into()),
            field,
            ..Default::default()
        };
        let method = |name: &str, input: &str| MethodDescriptorProto {
            name: Some(name.into()),
            input_type: Some(format!(".{PACKAGE}.{input}")),
            output_type: Some(format!(".{PACKAGE}.JsonReply")),
            ..Default::default()
        };
        let json = FieldDescriptorProto {
            name: Some("json".into()),
            json_name: Some("json".into()),
            number: Some(1),
            label: Some(Label::Optional.into()),
            r#type: Some(Type::String.into()),
            ..Default::default()
        };
        FileDescriptorSet {
            file: vec![FileDescriptorProto {
                name: Some("jwtauth/demo/v1/demo.proto".into()),
                package: Some(PACKAGE.into()),
                message_type: vec![
                    message("MeRequest", Vec::new()),
                    message("AdminRequest", Vec::new()),
                    message("JsonReply", vec![json]),
                ],
                service: vec![ServiceDescriptorProto {
                    name: Some("Demo".into()),
                    method: vec![method("Me", "MeRequest"), method("Admin", "AdminRequest")],
                    ..Default::default()
                }],
                syntax: Some("proto3".into()),
                ..Default::default()
            }],
        }
    }
}

/// The gRPC demo's banner: the HTTP demos' banner (from
/// `demo_support::DemoConfig::banner`) with the listening line saying gRPC
/// and a `grpcurl` line in place of the curl line, with the same sample
/// token.
pub fn banner(http_banner: &str) -> String {
    const CURL: &str = "curl -H 'Authorization: Bearer ";
    let mut out = String::with_capacity(http_banner.len() + 64);
    for line in http_banner.lines() {
        if let Some(rest) = line.strip_prefix("jwt-auth demo listening on http://") {
            out.push_str("jwt-auth gRPC demo (tonic) listening on ");
            out.push_str(rest);
            out.push_str(", plaintext HTTP/2");
        } else if let Some((token, addr)) = line
            .strip_prefix(CURL)
            .and_then(|rest| rest.split_once("' http://"))
        {
            let addr = addr.strip_suffix("/me").unwrap_or(addr);
            out.push_str("grpcurl -plaintext -H 'authorization: Bearer ");
            out.push_str(token);
            out.push_str("' ");
            out.push_str(addr);
            out.push_str(" jwtauth.demo.v1.Demo/Me");
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;

    #[test]
    fn banner_speaks_grpc() {
        let http = "jwt-auth demo listening on http://127.0.0.1:3000  (key: Hmac, algorithms: [HS256])\n\
                    Sample token (valid for 1 hour):\nTOKEN\n\
                    Try it:\ncurl -H 'Authorization: Bearer TOKEN' http://127.0.0.1:3000/me\n";
        assert_eq!(
            banner(http),
            "jwt-auth gRPC demo (tonic) listening on 127.0.0.1:3000  (key: Hmac, algorithms: [HS256]), plaintext HTTP/2\n\
             Sample token (valid for 1 hour):\nTOKEN\n\
             Try it:\ngrpcurl -plaintext -H 'authorization: Bearer TOKEN' 127.0.0.1:3000 jwtauth.demo.v1.Demo/Me\n"
        );
    }

    #[test]
    fn descriptor_matches_the_stubs_and_messages() {
        let set = proto::file_descriptor_set();
        let file = &set.file[0];
        let service = &file.service[0];
        assert_eq!(
            format!("{}.{}", file.package(), service.name()),
            proto::demo_server::SERVICE_NAME
        );
        let methods: Vec<_> = service.method.iter().map(|m| m.name()).collect();
        assert_eq!(methods, ["Me", "Admin"]);
        // `json` is field 1, a string (wire type 2): 0x0a, length, bytes.
        let encoded = proto::JsonReply { json: "{}".into() }.encode_to_vec();
        assert_eq!(encoded, [0x0a, 2, b'{', b'}']);
        assert_eq!(proto::MeRequest {}.encode_to_vec(), Vec::<u8>::new());
        // The set encodes, as the reflection service needs.
        assert!(!set.encode_to_vec().is_empty());
    }
}
