// The AWS SDK's Node 22 notice is not a test finding (see src/cli/main.ts).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
