// The Generator's default chat rendering (see generator.h).
#include "lsp/assist/generator.h"

namespace moecode::assist {

Prompt Generator::chat_prompt(const std::vector<ChatMessage>& messages) const {
  Prompt p;
  for (const ChatMessage& m : messages) {
    p.add_markup(m.role + ": ");
    p.add_text(m.content);
    p.add_markup("\n\n");
  }
  p.add_markup("assistant: ");
  return p;
}

}  // namespace moecode::assist
