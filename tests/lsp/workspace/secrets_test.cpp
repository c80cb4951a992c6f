// Secrets: file names that are never read, content patterns that are always redacted.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lsp/workspace/secrets.h"

namespace moecode::workspace {
namespace {

// Fake credentials, assembled at run time so that this source holds no secret-looking
// literal. Each has the shape of the real format.
std::string rep(char c, int n) { return std::string(static_cast<size_t>(n), c); }

struct Sample {
  std::string name;    // the pattern that must catch it
  std::string text;    // a line of code holding the secret
  std::string secret;  // the part that must disappear
};

std::vector<Sample> samples() {
  const std::string aws_id = std::string("AKIA") + "IOSFODNN7" + "EXAMPLE";
  const std::string aws_secret = std::string("wJalrXUtnFEMI/K7MDENG/") + "bPxRfiCYEXAMPLEKEY";
  const std::string gh = std::string("ghp_") + rep('a', 18) + rep('B', 18);
  const std::string ghpat = std::string("github_pat_") + rep('x', 30) + "_" + rep('Y', 40);
  const std::string gl = std::string("glpat-") + rep('z', 20);
  const std::string slack = std::string("xo") + "xb-" + rep('1', 12) + "-" + rep('a', 24);
  const std::string hook = std::string("https://hooks.") + "slack.com/services/T" + rep('0', 8) + "/B" + rep('1', 8) + "/" + rep('c', 24);
  const std::string stripe = std::string("sk_") + "live_" + rep('4', 24);
  const std::string google = std::string("AI") + "za" + rep('S', 35);
  const std::string openai = std::string("sk-") + rep('A', 20) + "T3Blbk" + "FJ" + rep('b', 20);
  const std::string openai_proj = std::string("sk-") + "proj-" + rep('k', 48);
  const std::string anthropic = std::string("sk-") + "ant-api03-" + rep('Q', 60);
  const std::string hf = std::string("hf_") + rep('h', 34);
  const std::string npm = std::string("npm_") + rep('n', 36);
  const std::string sg = std::string("SG.") + rep('g', 22) + "." + rep('G', 43);
  const std::string jwt = std::string("ey") + "JhbGciOiJIUzI1NiJ9." + std::string("ey") + "JzdWIiOiIxMjM0NTY3ODkwIn0." + rep('s', 20);
  const std::string azure = rep('K', 86) + "==";
  return {
      {"aws-access-key-id", "key_id = \"" + aws_id + "\"\n", aws_id},
      {"aws-secret-access-key", "aws_secret_access_key = " + aws_secret + "\n", aws_secret},
      {"github-token", "TOKEN = '" + gh + "'\n", gh},
      {"github-fine-grained-token", "t = \"" + ghpat + "\"\n", ghpat},
      {"gitlab-token", "token: " + gl + "\n", gl},
      {"slack-token", "SLACK=" + slack + "\n", slack},
      {"slack-webhook", "url = \"" + hook + "\"\n", hook},
      {"stripe-key", "stripe.api_key = \"" + stripe + "\"\n", stripe},
      {"google-api-key", "const key = '" + google + "';\n", google},
      {"openai-key", "OPENAI_API_KEY=" + openai + "\n", openai},
      {"openai-project-key", "client = OpenAI(api_key=\"" + openai_proj + "\")\n", openai_proj},
      {"anthropic-key", "key = \"" + anthropic + "\"\n", anthropic},
      {"huggingface-token", "HF_TOKEN=" + hf + "\n", hf},
      {"npm-token", "//registry.npmjs.org/:_authToken=" + npm + "\n", npm},
      {"sendgrid-key", "SENDGRID = '" + sg + "'\n", sg},
      {"jwt", "Authorization: Bearer " + jwt + "\n", jwt},
      {"azure-account-key", "conn = \"DefaultEndpointsProtocol=https;AccountName=x;AccountKey=" + azure + ";\"\n", azure},
      {"url-password", "DATABASE_URL = \"postgres://admin:hunter2secret@db.internal:5432/app\"\n", "hunter2secret"},
  };
}

TEST(SecretsTest, SecretFileNames) {
  for (const char* name : {".env", ".env.local", "config/.env.production", ".envrc", "id_rsa", "id_rsa.pub",
                           "home/.ssh/id_ed25519", "server.pem", "tls.KEY", "credentials", "credentials.json",
                           "aws/credentials.py", "keystore.jks", "cert.p12", ".netrc", ".npmrc", ".pypirc",
                           ".git-credentials", "secrets.yaml", "prod.tfvars", "gcp-service-account.json"}) {
    EXPECT_TRUE(is_secret_file_name(name)) << name;
  }
  for (const char* name : {"secrets.py", "environment.py", "keyboard.py", "main.c", "README.md", "envelope.ts",
                           "src/keys.rs", "env/config.py", "monkey.js", "pemfile.txt.bak.py"}) {
    EXPECT_FALSE(is_secret_file_name(name)) << name;
  }
}

TEST(SecretsTest, EveryPatternHasASampleAndCatchesIt) {
  const auto all = samples();
  for (std::string_view name : secret_pattern_names()) {
    if (name == "private-key-block") continue;  // its own test below
    const bool covered = std::any_of(all.begin(), all.end(), [&](const Sample& s) { return s.name == name; });
    EXPECT_TRUE(covered) << "no sample for pattern " << name;
  }
  for (const Sample& s : all) {
    const std::string text = "x = 1\n" + s.text + "y = 2\n";
    const auto spans = find_secrets(text);
    ASSERT_FALSE(spans.empty()) << s.name << ": nothing found in " << s.text;
    const std::string red = redact(text, spans);
    EXPECT_EQ(red.find(s.secret), std::string::npos) << s.name << ": " << red;
    EXPECT_NE(red.find(kRedacted), std::string::npos) << s.name;
    EXPECT_NE(red.find("x = 1\n"), std::string::npos) << s.name << ": code around it stays";
    EXPECT_NE(red.find("y = 2\n"), std::string::npos) << s.name;
  }
}

TEST(SecretsTest, PrivateKeyBlocksAreRedactedKeepingLineCount) {
  const std::string body = rep('M', 64) + "\n" + rep('Q', 64) + "\n" + rep('z', 20) + "==\n";
  const std::string text = "a = 1\n-----BEGIN RSA PRIVATE KEY-----\n" + body + "-----END RSA PRIVATE KEY-----\nb = 2\n";
  const auto spans = find_secrets(text);
  ASSERT_EQ(spans.size(), 1u);
  const std::string red = redact(text, spans);
  EXPECT_EQ(red.find(rep('M', 64)), std::string::npos);
  EXPECT_EQ(red.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(std::count(red.begin(), red.end(), '\n'), std::count(text.begin(), text.end(), '\n'));
  EXPECT_TRUE(red.starts_with("a = 1\n[REDACTED]"));
  EXPECT_TRUE(red.ends_with("\nb = 2\n"));
  // Inside a JSON string (a service-account key file's shape), and unterminated.
  const std::string json = "{\"private_key\": \"-----BEGIN PRIVATE KEY-----\\n" + rep('A', 40) +
                           "\\n-----END PRIVATE KEY-----\\n\", \"x\": 1}";
  const std::string rj = redact(json, find_secrets(json));
  EXPECT_EQ(rj.find(rep('A', 40)), std::string::npos) << rj;
  EXPECT_NE(rj.find("\"x\": 1"), std::string::npos);
  const std::string open = "k = '''-----BEGIN OPENSSH PRIVATE KEY-----\n" + rep('b', 70) + "\n";
  EXPECT_EQ(redact(open, find_secrets(open)).find(rep('b', 70)), std::string::npos);
  // A public key or a certificate is not a secret.
  const std::string pub = "-----BEGIN PUBLIC KEY-----\n" + rep('P', 64) + "\n-----END PUBLIC KEY-----\n";
  EXPECT_TRUE(find_secrets(pub).empty());
}

TEST(SecretsTest, OrdinaryCodeIsLeftAlone) {
  const std::string code =
      "import getpass\n"
      "password = getpass.getpass()\n"
      "url = 'https://example.com/api/v1/items?x=1'\n"
      "KEY_LENGTH = 32  # AKIA is a prefix\n"
      "def secret_key(self): return self._secret\n"
      "token = os.environ['GITHUB_TOKEN']\n"
      "user_at = 'mailto:someone@example.com'\n"
      "sk = 'sk-short'\n";
  EXPECT_TRUE(find_secrets(code).empty()) << redact(code, find_secrets(code));
}

TEST(SecretsTest, RedactRangeCutsSpansAtTheEdges) {
  const std::string id = std::string("AKIA") + "IOSFODNN7" + "EXAMPLE";
  const std::string text = "k = '" + id + "'\nz = 3\n";
  const auto spans = find_secrets(text);
  ASSERT_EQ(spans.size(), 1u);
  // A window that starts inside the secret still hides all of it.
  const size_t mid = text.find(id) + 6;
  const std::string part = redact_range(text, mid, text.size(), spans);
  EXPECT_TRUE(part.starts_with(std::string(kRedacted))) << part;
  EXPECT_EQ(part.find("EXAMPLE"), std::string::npos);
  EXPECT_TRUE(part.ends_with("'\nz = 3\n"));
  // A window before it is untouched.
  EXPECT_EQ(redact_range(text, 0, 4, spans), "k = ");
  EXPECT_EQ(redact_range(text, 5, 5, spans), "");
}

}  // namespace
}  // namespace moecode::workspace
