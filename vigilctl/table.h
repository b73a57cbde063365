#ifndef VIGIL_VIGILCTL_TABLE_H_
#define VIGIL_VIGILCTL_TABLE_H_

#include <string>
#include <vector>

namespace vigil::ctl {

// A plain-text table for terminals: a header row and data rows, columns separated by two spaces
// and padded to the widest cell (counted in UTF-8 characters), without trailing spaces.
// Right-aligned columns suit numbers. Not thread-safe; a value type.
class TextTable {
 public:
  enum class Align { kLeft, kRight };

  // One column per header cell.
  explicit TextTable(std::vector<std::string> header);

  void SetAlign(size_t column, Align align);
  // Rows shorter than the header are padded with empty cells; extra cells are dropped.
  void AddRow(std::vector<std::string> row);
  size_t rows() const { return rows_.size(); }

  // Every row, each ending in a newline.
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<Align> align_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace vigil::ctl

#endif  // VIGIL_VIGILCTL_TABLE_H_
