//! Generates the `jwtauth.demo.v1.Demo` client and server stubs with tonic's
//! manual code generator: the messages are hand-written prost types in
//! `src/lib.rs`, so the build needs neither `protoc` nor a .proto compiler.

use tonic_build::manual::{Builder, Method, Service};

fn main() {
    let method = |name: &str, route: &str, input: &str| {
        Method::builder()
            .name(name)
            .route_name(route)
            .input_type(format!("super::{input}"))
            .output_type("super::JsonReply")
            .codec_path("tonic_prost::ProstCodec")
            .build()
    };
    let demo = Service::builder()
        .name("Demo")
        .package("jwtauth.demo.v1")
        .comment("The jwt-auth demo service: every method requires a valid bearer token.")
        .method(method("me", "Me", "MeRequest"))
        .method(method("admin", "Admin", "AdminRequest"))
        .build();
    Builder::new().compile(&[demo]);
}
