#include "third_party/yaml_documents.h"

#include <sstream>
#include <string>

#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/yaml.h"

namespace tollgate {
namespace {

// Records where each document starts and the line of its root node.
class YamlDocumentScanner : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    document_pos = mark.pos;
    document_line = mark.line + 1;
    root_seen = false;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Node(mark);
  }
  void OnMapEnd() override {}

  int document_pos = -1;
  int document_line = 0;
  bool root_seen = false;
  int root_line = 0;

 private:
  void Node(const YAML::Mark& mark) {
    if (root_seen) return;
    root_seen = true;
    root_line = mark.line + 1;
  }
};

}  // namespace

YamlDocuments ScanYamlDocuments(const std::string& text) {
  YamlDocuments found;
  std::istringstream in(text);
  YAML::Parser parser(in);
  YamlDocumentScanner scanner;
  int previous_pos = -1;
  while (found.count < 2) {
    if (!parser.HandleNextDocument(scanner)) break;
    if (scanner.document_pos == previous_pos) {
      found.stuck_line = scanner.document_line;
      break;
    }
    previous_pos = scanner.document_pos;
    if (++found.count == 2) {
      found.second_line = scanner.root_seen ? scanner.root_line : scanner.document_line;
    }
  }
  return found;
}

}  // namespace tollgate
