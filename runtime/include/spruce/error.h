// The one error type of spruce's public API.
#ifndef SPRUCE_ERROR_H_
#define SPRUCE_ERROR_H_

#include <stdexcept>
#include <string>

namespace spruce {

// Thrown by every public call that fails: a bad file, a bad input, an
// unsupported model. what() says what was wrong and where, for example
// "model.spruce: weight 'fc1.weight' column index 912 >= 768 columns".
// The object that threw stays usable (an Engine whose run() threw can run
// again).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace spruce

#endif  // SPRUCE_ERROR_H_
