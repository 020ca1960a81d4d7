// npm itself runs on the system Node (20 here); every script must run on the project's pinned Node 24
// (devDependency "node"), because middy 7, the bench baseline (openai 7) and the Lambda runtime need it. `npm ci --ignore-scripts`
// skips the binary's install step and would silently fall back to Node 20: fail loudly instead.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(
    `durable-image-api needs Node >= 24 but this is ${process.version}. ` +
      'Run scripts through npm (npm test, npm start) after a plain `npm ci`, which installs Node 24 into node_modules/.bin.',
  );
  process.exit(1);
}
