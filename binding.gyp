{
  "targets": [
    {
      "target_name": "egress_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/bfd/engine_wrap.cc",
        "native/src/core/auth.cc",
        "native/src/core/digest.cc",
        "native/src/core/event_queue.cc",
        "native/src/core/packet.cc",
        "native/src/core/session.cc",
        "native/src/core/table.cc",
        "native/src/io/engine.cc",
        "native/src/io/sockets.cc",
        "native/src/io/rtnl_socket.cc",
        "native/src/netlink/rtnl_reader.cc",
        "native/src/netlink/ct_reader.cc",
        "native/src/io/ct_parse.cc",
        "native/src/io/ct_json.cc",
        "native/src/io/ct_dump.cc",
        "native/src/mem/release.cc",
        "native/src/mem/release_napi.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native/src"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-lpthread"]
    }
  ]
}
